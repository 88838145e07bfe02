// Whether a URL can be opened from another device (a phone scanning a label): loopback and
// unspecified addresses only ever mean "this machine" to whoever opens them.
import { networkInterfaces } from 'node:os';

/** The reason a phone cannot open this URL, or null when it names a reachable host. */
export function unreachableFromPhone(url: string): string | null {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return 'it is not a URL';
  }
  if (host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1') return `${host} is this machine's loopback address`;
  if (host === '0.0.0.0' || host === '::') return `${host} is the unspecified address, not one a phone can connect to`;
  return null;
}

/** This machine's addresses on its networks (IPv4, not loopback): what a phone on the same LAN can reach. */
export function lanAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
}

/** A public URL to suggest: the first LAN address on the given port, else a placeholder. */
export function suggestedPublicUrl(port: number, scheme = 'http'): string {
  return `${scheme}://${lanAddresses()[0] ?? "<this machine's LAN address>"}:${port}`;
}
