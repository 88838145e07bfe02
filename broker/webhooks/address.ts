// Which webhook targets are allowed: http(s) only, and never loopback, private, link-local or
// other internal addresses unless --webhooks-allow-private. Checked when an endpoint is registered
// and again on every connection (through the socket's DNS lookup), so a name that later resolves
// inward is refused too.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { ErrorCode, ProtocolError } from '../../protocol/errors';

const internal = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  internal.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  internal.addSubnet(net, bits, 'ipv6');

export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return internal.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return internal.check(mapped[1]!, 'ipv4');
  return internal.check(address, 'ipv6');
}

/** Parses and checks a webhook URL's form; the address check follows in checkTarget. */
export function parseWebhookUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ProtocolError(ErrorCode.BAD_REQUEST, 'url must be an absolute http:// or https:// URL', 'url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ProtocolError(ErrorCode.BAD_REQUEST, `url must use http or https, not ${url.protocol.replace(':', '')}`, 'url');
  if (url.username !== '' || url.password !== '')
    throw new ProtocolError(ErrorCode.BAD_REQUEST, 'url must not carry credentials; the signature authenticates the broker', 'url');
  return url;
}

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));
}

/** Refuses a URL whose host is, or resolves to, an internal address (unless allowed). */
export async function checkTarget(url: URL, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = (await resolveAll(host)).map((a) => a.address);
    } catch {
      throw new ProtocolError(ErrorCode.BAD_REQUEST, `url host ${host} does not resolve`, 'url');
    }
  }
  const inward = addresses.find(isInternalAddress);
  if (inward !== undefined) {
    throw new ProtocolError(
      ErrorCode.BAD_REQUEST,
      `url points at a private, loopback or link-local address (${inward}); start the broker with --webhooks-allow-private to allow it`,
      'url',
    );
  }
}

/** A DNS lookup for http.request that refuses internal addresses at connect time. */
export function guardedLookup(allowPrivate: boolean) {
  return (host: string, options: object, cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    dnsLookup(host, { ...options, all: true }, (err, addresses) => {
      if (err) return cb(err, '');
      const list = addresses as LookupAddress[];
      const inward = allowPrivate ? undefined : list.find((a) => isInternalAddress(a.address));
      if (inward) return cb(Object.assign(new Error(`webhook host ${host} resolves to the internal address ${inward.address}`), { code: 'EPRIVATE' }), '');
      if ((options as { all?: boolean }).all) return cb(null, list);
      cb(null, list[0]!.address, list[0]!.family);
    });
  };
}
