// Failed-login windows on Redis, shared by every node of a cluster (docs/architecture.md,
// Identities: lockouts): five wrong secrets on node A block on node B too. Each window is one
// hash that expires with its window, so an attack leaves nothing behind; admins list them with
// SCAN, which sees every node's failures.
import type { FailureWindows, Failure, Window } from '../rate-limit';
import { matches } from '../rate-limit';
import { type ScriptedRedis, keys } from './scripts';

const optional = (v: string | null): string => (v === null ? '' : `=${v}`);

function windowOf(h: Record<string, string>): Window | null {
  if (h.s === undefined || h.n === undefined) return null;
  return { start: Number(h.s), count: Number(h.n), subject: h.sub ?? null, address: h.adr ?? null };
}

export class RedisLoginWindows implements FailureWindows {
  /** `prefix`: the fleet's Redis key prefix, which SCAN patterns do not get from ioredis. */
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly prefix: string,
  ) {}

  async count(failures: Failure[], now: number, windowMs: number): Promise<void> {
    const p = this.redis.pipeline() as unknown as ScriptedRedis & { exec(): Promise<Array<[Error | null, unknown]> | null> };
    for (const f of failures) void p.fbLoginFail(keys.loginWindow(f.key), String(now), String(windowMs), optional(f.subject), optional(f.address));
    for (const [err] of (await p.exec()) ?? []) if (err) throw err;
  }

  async read(ks: string[]): Promise<Array<Window | null>> {
    const p = this.redis.pipeline();
    for (const k of ks) p.hgetall(keys.loginWindow(k));
    const replies = (await p.exec()) ?? [];
    return replies.map(([err, h]) => {
      if (err) throw err;
      return windowOf(h as Record<string, string>);
    });
  }

  async all(): Promise<Array<[string, Window]>> {
    const out: Array<[string, Window]> = [];
    for (const name of await this.names()) {
      const w = windowOf(await this.redis.hgetall(name));
      if (w) out.push([name.slice(keys.loginWindowPrefix.length), w]);
    }
    return out;
  }

  async clear(match: { subject?: string; address?: string }): Promise<number> {
    let n = 0;
    for (const [key, w] of await this.all()) if (matches(w, match)) n += await this.redis.del(keys.loginWindow(key));
    return n;
  }

  /** Every window's key name without the fleet prefix (ioredis adds it back to commands). */
  private async names(): Promise<string[]> {
    const pattern = `${this.prefix}${keys.loginWindowPrefix}`.replace(/[*?[\]\\]/g, '\\$&') + '*';
    const names: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const full of batch) names.push(full.slice(this.prefix.length));
    } while (cursor !== '0');
    return names;
  }
}
