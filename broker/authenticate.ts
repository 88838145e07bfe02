// MQTT CONNECT authentication (docs/architecture.md, Identities). Decides the connection's
// identity once; every later ACL check reads that identity.
import type { IncomingMessage } from 'node:http';
import type { AedesOptions, Client } from 'aedes';
import { MAC_PATTERN, tryNormaliseId } from '../protocol/ids';
import { agentFromToken, closeAtExpiry, noteRefusal } from './auth/jwt-agent';
import { JwtVerifier, TokenRefused } from './auth/jwt';
import { type DeviceLoginContext, verifyDeviceSecret } from './auth/device-login';
import { constantTimeEqual, tokenHash } from './auth/secrets';
import type { Context } from './context';
import { type Identity, setIdentity } from './identity';
import { useSession } from './store/accounts';
import { useCustomerSession } from './orders/sessions';
import { deviceLogin, touchLastSeen } from './store/devices';
import { findEnrollmentToken } from './store/enrollment';
import { credentialKey } from './live-credentials';
import { WarnLimiter, clip } from './warn-limit';
import { closeReason, markCloseReason } from './close-reason';
import { StartTimes } from './start-times';

/** What this module reads of the node's context. */
type AuthenticateContext = Pick<Context, 'closing' | 'credentials' | 'db' | 'jwt' | 'log' | 'metrics' | 'now' | 'opts' | 'presence' | 'throttle'> &
  DeviceLoginContext;

type Done = Parameters<NonNullable<AedesOptions['authenticate']>>[3];
const IDENTIFIER_REJECTED = 2;
const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;
const SERVER_UNAVAILABLE = 3;

function refuse(done: Done, code: 2 | 3 | 4 | 5, message: string): void {
  const err = Object.assign(new Error(message), { returnCode: code });
  done(err as Parameters<Done>[0], null);
}

/** The client's address from the HTTP upgrade request (WebSocket): X-Forwarded-For only behind a trusted proxy. */
export function requestAddress(req: IncomingMessage, trustProxy: boolean): string {
  const xff = trustProxy ? req.headers['x-forwarded-for'] : undefined;
  if (typeof xff === 'string' && xff.length > 0) return xff.split(',')[0]!.trim();
  return req.socket.remoteAddress ?? 'unknown';
}

export function remoteAddress(client: Client, trustProxy: boolean): string {
  if (client.req) return requestAddress(client.req, trustProxy);
  return (client.conn as { remoteAddress?: string }).remoteAddress ?? 'unknown';
}

/** TLS on the MQTT socket itself, or on the HTTPS connection a WebSocket came in on. */
function encrypted(client: Client): boolean {
  return (client.conn as { encrypted?: boolean }).encrypted === true || (client.req?.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
}

export function connectionGone(client: Client): boolean {
  return client.closed || (client.conn as { destroyed?: boolean }).destroyed === true;
}

/** `counts`: whether it is a failed login for the throttle. */
type Refusal = { code: 2 | 4 | 5; reason: string; counts: boolean };
// A wrong client id is refused before any credential is checked: nothing was guessed.
const badId = (reason: string): Refusal => ({ code: IDENTIFIER_REJECTED, reason, counts: false });
const badCredentials = (reason: string): Refusal => ({ code: BAD_CREDENTIALS, reason, counts: true });

const TOKEN_EXPIRY = Symbol('fleetbind.tokenExpiry');
type WithExpiry = Client & { [TOKEN_EXPIRY]?: number };

// Refused identity-provider tokens don't count towards the failed-login throttle: they cannot be
// guessed, and a web app retrying with an expired token must not lock its agent out once renewed.
async function identifyByToken(
  ctx: AuthenticateContext,
  client: Client,
  jwt: JwtVerifier,
  id: string,
  token: string,
  conn: number,
): Promise<Identity | Refusal> {
  try {
    const t = await agentFromToken(ctx, jwt, token);
    if (t.agent !== id) throw new TokenRefused('agent-mismatch', `the token is for agent ${t.agent}, not ${id}`);
    (client as WithExpiry)[TOKEN_EXPIRY] = t.expiresAt;
    return { kind: 'agent', id, conn, credential: credentialKey.identityToken(tokenHash(token)), expiresAt: t.expiresAt };
  } catch (err) {
    if (!(err instanceof TokenRefused)) throw err;
    noteRefusal(ctx, 'mqtt', err, { username: `agent:${id}`, clientId: clip(client.id) });
    return { code: BAD_CREDENTIALS, reason: `token refused: ${err.reason}`, counts: false };
  }
}

/**
 * Who is trying to connect, as the throttle counts failures: the client id's identity for an
 * enrollment, the username otherwise (clipped: it is client-chosen).
 */
function subjectOf(client: Client, username: string): string {
  if (username === 'enroll') return `enroll:${clip(client.id.replace(/^enroll-/, ''), 32)}`;
  return username.includes(':') ? clip(username, 80) : `device:${clip(username, 80)}`;
}

export const enrollTokenSubject = (tokenId: string): string => `enroll-token:${tokenId}`;

/** Who connects, why they may not, or null when the connection went away meanwhile. */
async function identify(ctx: AuthenticateContext, client: Client, username: string, password: string): Promise<Identity | Refusal | null> {
  const conn = await ctx.presence.nextConn();
  if (username === 'enroll') {
    const mac = client.id.startsWith('enroll-') ? client.id.slice(7) : '';
    if (!MAC_PATTERN.test(mac)) return badId('enroll client id must be enroll-<12 lower-case hex digits>');
    const token = await findEnrollmentToken(ctx.db, tokenHash(password));
    // A known but expired or used-up token still connects, so the device is told exactly why on
    // its reply topic; it can do nothing else.
    if (!token) return badCredentials('unknown enrollment token');
    // A token whose enrollments keep being refused (someone re-enrolling known MACs) pauses.
    if ((await ctx.throttle.subjectBlockedFor(enrollTokenSubject(token.id), ctx.now())) > 0)
      return { code: NOT_AUTHORIZED, reason: 'enrollment token throttled', counts: false };
    return { kind: 'enroll', mac, tokenId: token.id, conn, credential: credentialKey.enrollmentToken(token.id) };
  }
  if (username.startsWith('customer:')) return identifyCustomer(ctx, client, username.slice(9), password, conn);
  const colon = username.indexOf(':');
  if (colon > 0) {
    const kind = username.slice(0, colon);
    const id = tryNormaliseId(username.slice(colon + 1));
    if ((kind !== 'agent' && kind !== 'admin') || id === null) return badCredentials('username must be agent:<id>, admin:<name>, enroll or a device id');
    // The client id carries the identity, so no one can take over (or resume the session of)
    // another identity's client id: a device's, an enrollment's or another agent's.
    const prefix = `${kind}:${id}:`;
    if (!client.id.startsWith(prefix) || client.id.length === prefix.length) return badId(`client id must be ${prefix}<anything>`);
    if (kind === 'admin' && ctx.opts.adminToken !== undefined && constantTimeEqual(password, ctx.opts.adminToken)) {
      return { kind: 'admin', id, conn, credential: credentialKey.adminToken, expiresAt: Number.POSITIVE_INFINITY };
    }
    if (kind === 'agent' && ctx.jwt !== null && JwtVerifier.looksLikeJwt(password)) return identifyByToken(ctx, client, ctx.jwt, id, password, conn);
    const hash = tokenHash(password);
    const session = await useSession(ctx.db, hash, ctx.now(), ctx.opts.sessionIdleMs);
    if (!session || session.kind !== kind || session.subject !== id) return badCredentials('invalid or expired session token');
    return { kind, id, conn, credential: credentialKey.session(hash), expiresAt: ctx.now() + ctx.opts.sessionIdleMs };
  }
  if (username !== client.id) return badId('device client id must equal its username');
  if (tryNormaliseId(username) !== username) return badCredentials('device id is not in canonical form');
  const row = await deviceLogin(ctx.db, username);
  if (!row) return badCredentials('unknown device');
  const stored = await verifyDeviceSecret(ctx, row, password, () => !connectionGone(client));
  if (stored === null) return null;
  if (stored === false) return badCredentials('wrong device secret');
  // The first successful authentication ends the enrollment window, whatever the hello says. A
  // freshly enrolled fleet logs in for the first time all at once: the marks share commits.
  if (row.last_seen === null) await ctx.writer.write((trx) => touchLastSeen(trx, username, ctx.now()));
  return { kind: 'device', id: username, conn, credential: credentialKey.deviceSecret(username, stored) };
}

/** A walk-up customer: customer:<session> with the session's token; the connection ends with the session. */
async function identifyCustomer(ctx: AuthenticateContext, client: Client, rawId: string, token: string, conn: number): Promise<Identity | Refusal> {
  const id = tryNormaliseId(rawId);
  if (id === null) return badCredentials('username must be customer:<session>');
  const prefix = `customer:${id}:`;
  if (!client.id.startsWith(prefix) || client.id.length === prefix.length) return badId(`client id must be ${prefix}<anything>`);
  try {
    const s = await useCustomerSession(ctx.db, token, ctx.now(), id);
    return { kind: 'customer', id, device: s.device, conn, credential: credentialKey.customerSession(id), expiresAt: s.expiresAt, orders: new Set() };
  } catch (err) {
    return badCredentials(err instanceof Error ? err.message : 'invalid customer session');
  }
}

export function makeAuthenticate(ctx: AuthenticateContext): NonNullable<AedesOptions['authenticate']> {
  const warnings = new WarnLimiter();
  const plaintextWarnings = new WarnLimiter();
  const warn = (ip: string, fields: Record<string, unknown>, msg: string): void => {
    const take = warnings.take(ip, ctx.now());
    if (take) ctx.log.warn({ ...fields, ip, ...(take.suppressed > 0 ? { suppressed: take.suppressed } : {}) }, msg);
  };
  // Shedding (docs/architecture.md, Shutdown and overload): once authentication backs up (the
  // oldest CONNECT under way has waited too long) or too many are under way, a new one is told
  // "server unavailable" at once and retries later, instead of joining a queue in which every
  // client, accepted ones included, waits until it times out. A storm the broker keeps up with is
  // not shed: every device gets in on its first attempt.
  const underWay = new StartTimes();
  return (client, rawUser, rawPassword, finish) => {
    const now = ctx.now();
    if (ctx.closing || underWay.size >= ctx.opts.maxPendingAuth || now - underWay.oldest(now) >= ctx.opts.maxAuthWaitMs) {
      ctx.metrics.authFailures.inc({ kind: 'mqtt', reason: ctx.closing ? 'closing' : 'overloaded' });
      return refuse(finish, SERVER_UNAVAILABLE, ctx.closing ? 'the broker is shutting down' : 'too many connections authenticating; retry');
    }
    const started = underWay.add(now);
    ctx.metrics.authenticating.inc();
    const done: Done = (err, ok) => {
      underWay.remove(started);
      ctx.metrics.authenticating.dec();
      finish(err, ok);
    };
    const ip = remoteAddress(client, ctx.opts.trustProxy);
    const username = rawUser ?? '';
    const password = rawPassword?.toString('utf8') ?? '';
    const throttle = ctx.throttle;
    const subject = subjectOf(client, username);
    // Human passwords are guessable: their subject has a ceiling, and their address is limited
    // before checking. Device secrets and tokens are not: only (subject, address) blocks them.
    const guessable = username.startsWith('agent:') || username.startsWith('admin:');
    throttle
      .retryAfterMs(subject, ip, ctx.now(), { address: guessable, subject: guessable })
      .then(async (wait) => {
        if (wait === 0) return identify(ctx, client, username, password);
        ctx.metrics.authFailures.inc({ kind: 'mqtt', reason: 'rate-limited' });
        warn(ip, { username: clip(username), retryAfterMs: wait }, 'mqtt connect rate-limited');
        refuse(done, NOT_AUTHORIZED, 'too many failed attempts');
        return undefined;
      })
      .then(async (who) => {
        if (who === undefined) return;
        if (who !== null && 'reason' in who) {
          if (who.counts) await throttle.fail(subject, ip, ctx.now());
          ctx.metrics.authFailures.inc({ kind: 'mqtt', reason: who.reason });
          warn(ip, { username: clip(username), clientId: clip(client.id), reason: who.reason }, 'mqtt connect refused');
          return refuse(done, who.code, who.reason);
        }
        // The socket may have gone while we checked; then there is nothing to track.
        if (who === null || connectionGone(client)) return refuse(done, NOT_AUTHORIZED, 'connection closed during authentication');
        if (!ctx.credentials.add(who.credential, client)) return refuse(done, BAD_CREDENTIALS, 'credential revoked');
        setIdentity(client, who);
        const expiresAt = (client as WithExpiry)[TOKEN_EXPIRY];
        if (who.kind === 'agent' && expiresAt !== undefined) closeAtExpiry(ctx, client, who.id, expiresAt);
        // A customer's connection lasts no longer than its session would without a request; the page reconnects (and so renews it) while open.
        if (who.kind === 'customer') {
          const end = setTimeout(() => (markCloseReason(client, 'kicked'), client.close()), Math.max(0, who.expiresAt - ctx.now()));
          end.unref();
          client.conn.once('close', () => clearTimeout(end));
        }
        ctx.metrics.connections[who.kind]++;
        if ((who.kind === 'device' || who.kind === 'enroll') && !encrypted(client)) {
          ctx.metrics.plaintextDeviceConnections.inc({ kind: who.kind });
          // Every such connection is counted; a fleet rebooting over plain MQTT would otherwise
          // write a log line per device, a large share of a connect's CPU in a storm.
          const take = plaintextWarnings.take(ip, ctx.now());
          if (take)
            ctx.log.warn(
              { kind: who.kind, clientId: client.id, ip, ...(take.suppressed > 0 ? { suppressed: take.suppressed } : {}) },
              'device connected without TLS: its secret or enrollment token crossed the network in clear',
            );
        }
        client.conn.once('close', () => {
          ctx.credentials.remove(who.credential, client);
          ctx.metrics.connections[who.kind]--;
          if (who.kind === 'device') ctx.presence.closed(who.id, who.conn, closeReason(client, ctx.closing));
        });
        // In a cluster this reaches Redis before the CONNACK, so the device's previous node
        // already knows of this connection when Aedes there closes the old one.
        if (who.kind === 'device') await ctx.presence.opened(who.id, who.conn);
        done(null, true);
      })
      .catch((err: unknown) => {
        ctx.log.error({ err, username: clip(username) }, 'authentication failed with an internal error');
        refuse(done, SERVER_UNAVAILABLE, 'server error');
      });
  };
}
