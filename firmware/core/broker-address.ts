// The `broker` preference names the broker as mqtt://host[:port], mqtts://host[:port] or
// host[:port]. XS has no URL class, so this is parsed by hand.

export interface BrokerAddress {
  host: string;
  port: number;
  secure: boolean;
}

const FORM = /^(?:(mqtts?):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/;

/** Returns null when the text is not a broker address. */
export function parseBrokerAddress(text: string): BrokerAddress | null {
  const m = FORM.exec(text.trim());
  if (!m) return null;
  const secure = m[1] === 'mqtts';
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  const port = m[3] === undefined ? (secure ? 8883 : 1883) : Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host, port, secure };
}
