// Ends live agent and admin connections whose login session expired (docs/architecture.md,
// Identities). Each connection's deadline is known from when it authenticated; only when one
// passes is the session read again, since REST use may have slid it further.
import type { Context } from './context';
import { credentialKey } from './live-credentials';
import { findSession } from './store/accounts';

/** What this module reads of the node's context. */
type SessionExpiryContext = Pick<Context, 'credentials' | 'db' | 'log' | 'now'>;

const SWEEP_MS = 250;

export class SessionExpiry {
  private readonly deadlines = new Map<string, { hash: string; at: number }>();
  private readonly timer: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    private readonly ctx: SessionExpiryContext,
    private readonly close: (key: string) => void,
  ) {
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /** A connection authenticated with this credential; only login sessions expire. */
  track(key: string, expiresAt: number): void {
    const hash = credentialKey.sessionHashOf(key);
    if (hash === null) return;
    const cur = this.deadlines.get(key);
    if (!cur || cur.at < expiresAt) this.deadlines.set(key, { hash, at: expiresAt });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    if (this.sweeping) return;
    this.sweeping = true;
    this.due()
      .catch((err: unknown) => this.ctx.log.error({ err }, 'checking session expiry failed'))
      .finally(() => (this.sweeping = false));
  }

  private async due(): Promise<void> {
    const now = this.ctx.now();
    for (const [key, d] of this.deadlines) {
      if (!this.ctx.credentials.isLive(key)) {
        this.deadlines.delete(key);
        continue;
      }
      if (d.at > now) continue;
      const s = await findSession(this.ctx.db, d.hash);
      if (s && Number(s.expires_at) > now) {
        d.at = Number(s.expires_at);
        continue;
      }
      this.deadlines.delete(key);
      this.ctx.log.info({ subject: s ? `${s.kind}:${s.subject}` : undefined }, 'session expired: closing its connections');
      this.close(key);
    }
  }
}
