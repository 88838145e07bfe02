// Phase 2 of a node (docs/architecture.md, How a node starts): presence, Aedes with its
// authentication, ACL and message routing, the kick that closes an identity's connections on
// every node, the connection guard, and what happens as clients connect and go.
import { Aedes } from 'aedes';
import type { OfflineReason } from '../../protocol/messages';
import { Acl } from '../acl';
import { makeAuthenticate } from '../authenticate';
import { markCloseReason } from '../close-reason';
import { StormCompactor } from '../heap-compaction';
import { CONNECT_DEADLINE_MS, ConnectionGuard, type GuardedStream } from '../connection-guard';
import type { Context } from '../context';
import type { KickTarget } from '../events';
import { identityOf } from '../identity';
import { orderOwner } from '../orders/sessions';
import { presenceAnnouncer } from '../presence-announce';
import { scheduleBindings } from '../publisher';
import { routeMessage } from '../routing';
import { SessionExpiry } from '../session-expiry';
import { deviceAgents } from '../store/devices';
import { type AedesInternals, aedesInternals } from '../upstream/aedes';
import { numberAtEmit } from '../upstream/emit-order';
import { IndexedMemoryPersistence } from '../upstream/memory-persistence';
import { guardRecursion } from '../upstream/mq-guard';
import { WarnLimiter } from '../warn-limit';

export interface NodeMqtt {
  aedes: Aedes;
  internals: AedesInternals;
  guard: ConnectionGuard;
  expiry: SessionExpiry;
  compactor: StormCompactor;
  /** Closes the target's connections on this node only. */
  kickHere(target: KickTarget, reason: OfflineReason): number;
}

export async function startMqtt(ctx: Context): Promise<NodeMqtt> {
  const { backends, log, metrics } = ctx;
  const announce = presenceAnnouncer(ctx);
  ctx.presence = backends.presence(announce);
  metrics.watchFleet(async () => {
    const rows = await deviceAgents(ctx.db);
    const byPresence: Record<string, number> = {};
    for (const r of rows) {
      const state = ctx.presence.status(r.id).state;
      byPresence[state] = (byPresence[state] ?? 0) + 1;
    }
    return { byPresence, registered: rows.length, bound: rows.filter((r) => r.agent_id !== null).length };
  });
  const acl = new Acl(backends.aclBindings, ctx.presence, metrics, log.child({ part: 'acl' }), (order) => orderOwner(ctx.db, order));

  const aedes = await Aedes.createBroker({
    connectTimeout: CONNECT_DEADLINE_MS,
    persistence: new IndexedMemoryPersistence(),
    ...backends.aedesOptions(),
    authenticate: makeAuthenticate(ctx),
    authorizePublish: acl.authorizePublish,
    authorizeSubscribe: acl.authorizeSubscribe,
    authorizeForward: acl.authorizeForward,
    published(packet, client, done) {
      done();
      const who = identityOf(client);
      if (!who || ctx.closing) return;
      const pending = routeMessage(ctx, client, who, packet.topic, packet.payload as Buffer);
      pending?.catch((err: unknown) => log.error({ err, topic: packet.topic }, 'handling a message failed'));
    },
  });
  // Before any traffic: a connect burst must not overflow the stack draining the message queue.
  const internals = aedesInternals(aedes);
  guardRecursion(internals.mq);
  numberAtEmit(aedes);
  ctx.aedes = aedes;

  const kickHere = (target: KickTarget, reason: OfflineReason): number => {
    let n = 0;
    if (target.kind === 'credential') {
      for (const client of ctx.credentials.revoke(target.id)) {
        markCloseReason(client, reason);
        client.close();
        n++;
      }
      return n;
    }
    for (const client of internals.clients()) {
      const who = identityOf(client);
      if (who && who.kind === target.kind && who.id === target.id) {
        markCloseReason(client, reason);
        client.close();
        n++;
      }
    }
    return n;
  };
  ctx.kick = async (target, reason) => kickHere(target, reason) + (await backends.kickElsewhere(target, reason));
  // Every node ends its own connections whose session expired: the expiry is in the shared store.
  const expiry = new SessionExpiry(ctx, (key) => kickHere({ kind: 'credential', id: key }, 'kicked'));

  const guardWarnings = new WarnLimiter();
  const guard = new ConnectionGuard(ctx.opts.preAuthPerAddress, {
    oversize(address, announced, authenticated) {
      metrics.guardRefusals.inc({ reason: authenticated ? 'oversize' : 'oversize-before-connack' });
      if (guardWarnings.take(address, ctx.now())) log.warn({ ip: address, announced, authenticated }, 'connection closed: packet over the size limit');
    },
    overCap(address) {
      metrics.guardRefusals.inc({ reason: 'unauthenticated-per-address' });
      if (guardWarnings.take(address, ctx.now())) log.warn({ ip: address }, 'connection refused: too many unauthenticated connections from this address');
    },
  });
  const compactor = new StormCompactor(ctx.opts.stormCompaction, () => guard.unauthenticated, {
    compacted({ connects, beforeBytes, afterBytes, ms }) {
      metrics.heapCompactions.inc();
      log.info({ connects, heapBefore: beforeBytes, heapAfter: afterBytes, ms: Math.round(ms) }, 'heap compacted after a connect storm');
    },
    failed: (err) => log.error({ err }, 'compacting the heap after a connect storm failed'),
  });
  aedes.on('client', (client) => {
    (client.conn as Partial<GuardedStream>).authenticated?.();
    compactor.connected();
    const who = identityOf(client);
    if (who?.kind === 'device') ctx.presence.registered(who.id, who.conn);
    if (who?.kind === 'agent') scheduleBindings(ctx, who.id, 0);
    if (who?.kind === 'agent' || who?.kind === 'admin') expiry.track(who.credential, who.expiresAt);
  });
  aedes.on('keepaliveTimeout', (client) => markCloseReason(client, 'keepalive'));
  aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'));
  aedes.on('connectionError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'connection error'));
  await backends.attach(ctx, kickHere);
  return { aedes, internals, guard, expiry, compactor, kickHere };
}
