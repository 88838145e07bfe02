// MQTT CONNECT authentication (docs/architecture.md, Identities). Decides the connection's identity once; every
// later ACL check reads that identity.
import type { AedesOptions, Client } from 'aedes';
import { MAC_PATTERN, tryNormaliseId } from '../protocol/ids';
import type { OfflineReason } from '../protocol/messages';
import { agentFromToken, closeAtExpiry, noteRefusal } from './auth/jwt-agent';
import { JwtVerifier, TokenRefused } from './auth/jwt';
import { constantTimeEqual, tokenHash, verifiedSecretDigest, verifySecret } from './auth/secrets';
import type { Context } from './context';
import { type Identity, setIdentity } from './identity';
import { useSession } from './store/accounts';
import { getDevice } from './store/devices';
import { findEnrollmentToken } from './store/enrollment';

type Done = Parameters<NonNullable<AedesOptions['authenticate']>>[3];
const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;
const SERVER_UNAVAILABLE = 3;

function refuse(done: Done, code: 3 | 4 | 5, message: string): void {
  const err = Object.assign(new Error(message), { returnCode: code });
  done(err as Parameters<Done>[0], null);
}

export function remoteAddress(client: Client, trustProxy: boolean): string {
  const xff = trustProxy ? client.req?.headers['x-forwarded-for'] : undefined;
  if (typeof xff === 'string' && xff.length > 0) return xff.split(',')[0]!.trim();
  const sock = (client.conn as { remoteAddress?: string }).remoteAddress ?? client.req?.socket.remoteAddress;
  return sock ?? 'unknown';
}

export function connectionGone(client: Client): boolean {
  return client.closed || (client.conn as { destroyed?: boolean }).destroyed === true;
}

// Refused identity-provider tokens don't count towards the failed-login throttle: they cannot be
// guessed, and a web app retrying with an expired token must not lock its agent out once renewed.
const TOKEN_REFUSED = 'token refused: ';
const TOKEN_EXPIRY = Symbol('fleetbind.tokenExpiry');
type WithExpiry = Client & { [TOKEN_EXPIRY]?: number };

async function identifyByToken(ctx: Context, client: Client, jwt: JwtVerifier, id: string, token: string, conn: number): Promise<Identity | string> {
  try {
    const t = await agentFromToken(ctx, jwt, token);
    if (t.agent !== id) throw new TokenRefused('agent-mismatch', `the token is for agent ${t.agent}, not ${id}`);
    (client as WithExpiry)[TOKEN_EXPIRY] = t.expiresAt;
    return { kind: 'agent', id, conn };
  } catch (err) {
    if (!(err instanceof TokenRefused)) throw err;
    noteRefusal(ctx, 'mqtt', err, { username: `agent:${id}`, clientId: client.id });
    return `${TOKEN_REFUSED}${err.reason}`;
  }
}

/** Who connects, why they may not (a string), or null when the connection went away meanwhile. */
async function identify(ctx: Context, client: Client, username: string, password: string): Promise<Identity | string | null> {
  const conn = await ctx.presence.nextConn();
  if (username === 'enroll') {
    const mac = client.id.startsWith('enroll-') ? client.id.slice(7) : '';
    if (!MAC_PATTERN.test(mac)) return 'enroll client id must be enroll-<12 lower-case hex digits>';
    const token = await findEnrollmentToken(ctx.db, tokenHash(password));
    // A known but expired or used-up token still connects, so the device is told exactly why on
    // its reply topic; it can do nothing else.
    return token ? { kind: 'enroll', mac, tokenId: token.id, conn } : 'unknown enrollment token';
  }
  const colon = username.indexOf(':');
  if (colon > 0) {
    const kind = username.slice(0, colon);
    const id = tryNormaliseId(username.slice(colon + 1));
    if ((kind !== 'agent' && kind !== 'admin') || id === null) return 'username must be agent:<id>, admin:<name>, enroll or a device id';
    if (kind === 'admin' && ctx.opts.adminToken !== undefined && constantTimeEqual(password, ctx.opts.adminToken)) return { kind: 'admin', id, conn };
    if (kind === 'agent' && ctx.jwt !== null && JwtVerifier.looksLikeJwt(password)) return identifyByToken(ctx, client, ctx.jwt, id, password, conn);
    const session = await useSession(ctx.db, tokenHash(password), ctx.now(), ctx.opts.sessionIdleMs);
    if (!session || session.kind !== kind || session.subject !== id) return 'invalid or expired session token';
    return { kind, id, conn };
  }
  if (username !== client.id) return 'device client id must equal its username';
  if (tryNormaliseId(username) !== username) return 'device id is not in canonical form';
  const row = await getDevice(ctx.db, username);
  if (!row) return 'unknown device';
  const digest = verifiedSecretDigest(row.secret_hash, password);
  if (ctx.verifiedSecrets.get(username) !== digest) {
    const ok = await ctx.hashes.run(() => verifySecret(password, row.secret_hash), () => !connectionGone(client));
    if (ok === null) return null;
    if (!ok) return 'wrong device secret';
    ctx.verifiedSecrets.set(username, digest);
  }
  return { kind: 'device', id: username, conn };
}

const CLOSE_REASON = Symbol('fleetbind.closeReason');
type Marked = Client & { [CLOSE_REASON]?: OfflineReason; _disconnected?: boolean };

/** Records why the broker is about to close a connection (keepalive, kicked). */
export function markCloseReason(client: Client, reason: OfflineReason): void {
  (client as Marked)[CLOSE_REASON] = reason;
}

function closeReason(ctx: Context, client: Client): OfflineReason {
  const m = client as Marked;
  if (ctx.closing) return 'broker-restart';
  if (m[CLOSE_REASON]) return m[CLOSE_REASON];
  return m._disconnected ? 'clean' : 'socket';
}

export function makeAuthenticate(ctx: Context): NonNullable<AedesOptions['authenticate']> {
  return (client, rawUser, rawPassword, done) => {
    const ip = remoteAddress(client, ctx.opts.trustProxy);
    const username = rawUser ?? '';
    const password = rawPassword?.toString('utf8') ?? '';
    const throttle = ctx.throttle;
    const wait = throttle.retryAfterMs(username, ip, ctx.now());
    if (wait > 0) {
      ctx.metrics.authFailures.inc({ kind: 'mqtt', reason: 'rate-limited' });
      ctx.log.warn({ username, ip, retryAfterMs: wait }, 'mqtt connect rate-limited');
      return refuse(done, NOT_AUTHORIZED, 'too many failed attempts');
    }
    identify(ctx, client, username, password)
      .then(async (who) => {
        if (typeof who === 'string') {
          if (!who.startsWith(TOKEN_REFUSED)) throttle.fail(username, ip, ctx.now());
          ctx.metrics.authFailures.inc({ kind: 'mqtt', reason: who });
          ctx.log.warn({ username, clientId: client.id, ip, reason: who }, 'mqtt connect refused');
          return refuse(done, BAD_CREDENTIALS, who);
        }
        // The socket may have gone while we checked; then there is nothing to track.
        if (who === null || connectionGone(client)) return refuse(done, NOT_AUTHORIZED, 'connection closed during authentication');
        setIdentity(client, who);
        const expiresAt = (client as WithExpiry)[TOKEN_EXPIRY];
        if (who.kind === 'agent' && expiresAt !== undefined) closeAtExpiry(ctx, client, who.id, expiresAt);
        ctx.metrics.connections[who.kind]++;
        client.conn.once('close', () => {
          ctx.metrics.connections[who.kind]--;
          if (who.kind === 'device') ctx.presence.closed(who.id, who.conn, closeReason(ctx, client));
        });
        // In a cluster this reaches Redis before the CONNACK, so the device's previous node
        // already knows of this connection when Aedes there closes the old one.
        if (who.kind === 'device') await ctx.presence.opened(who.id, who.conn);
        done(null, true);
      })
      .catch((err: unknown) => {
        ctx.log.error({ err, username }, 'authentication failed with an internal error');
        refuse(done, SERVER_UNAVAILABLE, 'server error');
      });
  };
}

