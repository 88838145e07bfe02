// Improv Wi-Fi over serial (https://www.improv-wifi.com/serial/): how a person gives a freshly
// flashed device its Wi-Fi network from `npm run flash -- improv` or the web Flash page, without
// rebuilding its NVS. Packets are "IMPROV", version 1, type, length, data, and a checksum (the
// low byte of the sum of every byte before it); this side ends each with a newline so they do
// not run into console log lines. Pure: bytes in through receive(), bytes out through `send`,
// Wi-Fi joined through `join`, so it runs the same on XS, in the simulator and in tests.
import { utf8Decode, utf8Encode } from './utf8';

export const IMPROV_HEADER = [0x49, 0x4d, 0x50, 0x52, 0x4f, 0x56]; // "IMPROV"
export const IMPROV_VERSION = 1;

export const ImprovType = { CURRENT_STATE: 0x01, ERROR_STATE: 0x02, RPC: 0x03, RPC_RESULT: 0x04 } as const;
export const ImprovState = { AUTHORIZATION_REQUIRED: 0x01, AUTHORIZED: 0x02, PROVISIONING: 0x03, PROVISIONED: 0x04 } as const;
export const ImprovError = { NONE: 0x00, INVALID_RPC: 0x01, UNKNOWN_RPC: 0x02, UNABLE_TO_CONNECT: 0x03, UNKNOWN: 0xff } as const;
export const ImprovCommand = { WIFI_SETTINGS: 0x01, CURRENT_STATE: 0x02, DEVICE_INFO: 0x03, WIFI_NETWORKS: 0x04 } as const;

export interface ImprovPacket {
  type: number;
  data: Uint8Array;
}

const MAX_DATA = 255;

export function encodeImprov(type: number, data: Uint8Array): Uint8Array {
  if (data.length > MAX_DATA) throw new Error(`an Improv packet carries at most ${MAX_DATA} bytes, not ${data.length}`);
  const out = new Uint8Array(IMPROV_HEADER.length + 4 + data.length + 1);
  out.set(IMPROV_HEADER, 0);
  let at = IMPROV_HEADER.length;
  out[at++] = IMPROV_VERSION;
  out[at++] = type;
  out[at++] = data.length;
  out.set(data, at);
  at += data.length;
  let sum = 0;
  for (let i = 0; i < at; i++) sum += out[i]!;
  out[at++] = sum & 0xff;
  out[at] = 0x0a;
  return out;
}

/** Length-prefixed strings, as RPC data and results carry them. */
export function encodeStrings(strings: string[]): Uint8Array {
  const parts = strings.map((s) => utf8Encode(s));
  const out = new Uint8Array(parts.reduce((n, p) => n + 1 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    if (p.length > 255) throw new Error('an Improv string is at most 255 bytes');
    out[at++] = p.length;
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** null when the lengths do not add up. */
export function decodeStrings(data: Uint8Array): string[] | null {
  const out: string[] = [];
  for (let at = 0; at < data.length; ) {
    const n = data[at++]!;
    if (at + n > data.length) return null;
    out.push(utf8Decode(data.subarray(at, at + n)));
    at += n;
  }
  return out;
}

/** An RPC command's (or result's) data: command, length, then the length-prefixed strings. */
export function encodeRpc(command: number, strings: string[]): Uint8Array {
  const body = encodeStrings(strings);
  const out = new Uint8Array(2 + body.length);
  out[0] = command;
  out[1] = body.length;
  out.set(body, 2);
  return out;
}

export type ImprovFrame = { kind: 'packet'; packet: ImprovPacket } | { kind: 'bad-checksum' };

/**
 * Finds Improv packets in a byte stream that also carries other things (console text, on the
 * host side the firmware's log lines): anything that does not start with "IMPROV" is skipped.
 */
export class ImprovDecoder {
  private buffer = new Uint8Array(0);

  push(bytes: Uint8Array): ImprovFrame[] {
    const joined = new Uint8Array(this.buffer.length + bytes.length);
    joined.set(this.buffer, 0);
    joined.set(bytes, this.buffer.length);
    const frames: ImprovFrame[] = [];
    let at = 0;
    for (;;) {
      const start = findHeader(joined, at);
      if (start < 0) {
        // Keep a tail that could be the start of a header.
        at = Math.max(at, joined.length - (IMPROV_HEADER.length - 1));
        break;
      }
      const lengthAt = start + IMPROV_HEADER.length + 2;
      if (joined.length <= lengthAt) {
        at = start;
        break;
      }
      const length = joined[lengthAt]!;
      const end = lengthAt + 1 + length + 1;
      if (joined.length < end) {
        at = start;
        break;
      }
      let sum = 0;
      for (let i = start; i < end - 1; i++) sum += joined[i]!;
      if ((sum & 0xff) !== joined[end - 1]) frames.push({ kind: 'bad-checksum' });
      else frames.push({ kind: 'packet', packet: { type: joined[start + IMPROV_HEADER.length + 1]!, data: joined.slice(lengthAt + 1, end - 1) } });
      at = end;
    }
    this.buffer = joined.slice(at);
    return frames;
  }
}

function findHeader(bytes: Uint8Array, from: number): number {
  outer: for (let i = from; i + IMPROV_HEADER.length <= bytes.length; i++) {
    for (let j = 0; j < IMPROV_HEADER.length; j++) if (bytes[i + j] !== IMPROV_HEADER[j]) continue outer;
    return i;
  }
  return -1;
}

export interface ImprovDeviceInfo {
  firmware: string;
  version: string;
  chip: string;
  name: string;
}

export interface ImprovIo {
  send(bytes: Uint8Array): void;
  /** Store the network and join it; `done(true)` once it has an IP address, `done(false)` when the attempt failed. */
  join(ssid: string, psk: string, done: (ok: boolean) => void): void;
  /** Whether the device is on a Wi-Fi network now. */
  online(): boolean;
  info(): ImprovDeviceInfo;
  log(msg: string, fields: Record<string, string | number>): void;
}

/** The device side: answers RPCs, reports its state, joins the network it is given. */
export class ImprovService {
  private readonly decoder = new ImprovDecoder();
  private provisioning = false;

  constructor(private readonly io: ImprovIo) {}

  receive(bytes: Uint8Array): void {
    for (const frame of this.decoder.push(bytes)) {
      if (frame.kind === 'bad-checksum') this.error(ImprovError.INVALID_RPC);
      else if (frame.packet.type === ImprovType.RPC) this.rpc(frame.packet.data);
    }
  }

  private state(): number {
    if (this.provisioning) return ImprovState.PROVISIONING;
    return this.io.online() ? ImprovState.PROVISIONED : ImprovState.AUTHORIZED;
  }

  private sendState(): void {
    this.io.send(encodeImprov(ImprovType.CURRENT_STATE, Uint8Array.of(this.state())));
  }

  private error(code: number): void {
    this.io.send(encodeImprov(ImprovType.ERROR_STATE, Uint8Array.of(code)));
  }

  private result(command: number, strings: string[]): void {
    this.io.send(encodeImprov(ImprovType.RPC_RESULT, encodeRpc(command, strings)));
  }

  private rpc(data: Uint8Array): void {
    if (data.length < 2 || data[1] !== data.length - 2) return this.error(ImprovError.INVALID_RPC);
    const command = data[0]!;
    const body = data.subarray(2);
    switch (command) {
      case ImprovCommand.WIFI_SETTINGS:
        return this.wifiSettings(body);
      case ImprovCommand.CURRENT_STATE:
        this.sendState();
        if (this.state() === ImprovState.PROVISIONED) this.result(command, []);
        return;
      case ImprovCommand.DEVICE_INFO: {
        const i = this.io.info();
        return this.result(command, [i.firmware, i.version, i.chip, i.name]);
      }
      default:
        return this.error(ImprovError.UNKNOWN_RPC);
    }
  }

  private wifiSettings(body: Uint8Array): void {
    const strings = decodeStrings(body);
    if (strings === null || strings.length !== 2 || strings[0] === '') return this.error(ImprovError.INVALID_RPC);
    if (this.provisioning) return this.error(ImprovError.UNKNOWN);
    const [ssid, psk] = strings as [string, string];
    this.provisioning = true;
    this.error(ImprovError.NONE);
    this.sendState();
    this.io.log('Improv: joining Wi-Fi', { ssid });
    this.io.join(ssid, psk, (ok) => {
      this.provisioning = false;
      if (!ok) {
        this.error(ImprovError.UNABLE_TO_CONNECT);
        this.sendState();
        return;
      }
      this.sendState();
      this.result(ImprovCommand.WIFI_SETTINGS, []);
    });
  }
}
