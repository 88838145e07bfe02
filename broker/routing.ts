// Where a message an authenticated client published goes: a device's hello, acks, events and state
// reports, an enrolling device's request, an agent's or admin's request (docs/architecture.md,
// Wire contract). Anything else was already refused by the ACL or has no handler.
import type { Client } from 'aedes';
import { oversizeRequestId } from './acl';
import { connectionGone } from './authenticate';
import type { Context } from './context';
import type { Identity } from './identity';
import { handleEnroll, handleHello } from './registry';
import { handleRequest } from './requests';
import { parseTopicCached as parseTopic } from './topic-cache';

export function routeMessage(ctx: Context, client: Client, who: Identity, topic: string, payload: Buffer): Promise<void> | void {
  const t = parseTopic(topic);
  if (!t) return;
  switch (who.kind) {
    case 'device':
      if (t.kind !== 'device') return;
      if (t.leaf === 'hello') return handleHello(ctx, who.id, payload).then((profile) => void ctx.events.emit('hello', who.id, profile));
      if (t.leaf === 'ack') return void ctx.events.emit('ack', who.id, payload);
      if (t.leaf === 'evt') return void ctx.events.emit('evt', who.id, t.stream ?? '', payload);
      if (t.leaf === 'state') return ctx.machines.shadows.report(who.id, payload);
      return;
    case 'enroll':
      return handleEnroll(ctx, who, payload, () => !connectionGone(client));
    case 'agent':
    case 'admin':
      return handleRequest(ctx, who, payload, client, oversizeRequestId(payload));
  }
}
