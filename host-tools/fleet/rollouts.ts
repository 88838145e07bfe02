// `npm run fleet -- rollouts [--follow]` and `rollout pause|resume|cancel <id>`: firmware
// rollouts in a terminal (docs/architecture.md, Over-the-air updates), one progress bar each:
// confirmed in full blocks, in flight in light shade, failed or rolled back in x.
import type { AdminApi } from '../api/admin-api';
import type { RolloutView } from '../../protocol/rest';
import type { Command } from './commands';

const BAR = 30;
const FOLLOW_POLL_MS = 1_000;

type Counts = Record<string, number>;

export function progressBar(counts: Counts, total: number, width = BAR): string {
  if (total === 0) return `[${' '.repeat(width)}]`;
  const cells = (n: number): number => Math.round((n * width) / total);
  const ok = cells(counts.confirmed ?? 0);
  const bad = Math.min(width - ok, cells((counts.failed ?? 0) + (counts['rolled-back'] ?? 0)));
  const busy = Math.min(width - ok - bad, cells((counts.sent ?? 0) + (counts.downloading ?? 0) + (counts.installed ?? 0)));
  return `[${'█'.repeat(ok)}${'x'.repeat(bad)}${'░'.repeat(busy)}${' '.repeat(width - ok - bad - busy)}]`;
}

export function rolloutLine(r: RolloutView): string {
  const c = r.counts as Counts;
  const failed = (c.failed ?? 0) + (c['rolled-back'] ?? 0);
  const inFlight = (c.sent ?? 0) + (c.downloading ?? 0) + (c.installed ?? 0);
  const parts = [`${c.confirmed ?? 0}/${r.total} confirmed`];
  if (inFlight > 0) parts.push(`${inFlight} updating`);
  if (failed > 0) parts.push(`${failed} failed`);
  if ((c['skipped-busy'] ?? 0) > 0) parts.push(`${c['skipped-busy']} busy`);
  const state = r.state === 'running' ? `wave ${r.wave + 1}/${r.waves.length}` : r.state;
  return `${r.id}  ${r.release.padEnd(10)} ${progressBar(c, r.total)} ${parts.join(', ')}  ${state}${r.reason ? ` (${r.reason})` : ''}`;
}

function listText(rs: RolloutView[]): string {
  return rs.length === 0 ? 'no rollouts' : rs.map(rolloutLine).join('\n');
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

const rollouts = (api: AdminApi): Promise<RolloutView[]> => api.request<RolloutView[]>('GET', '/api/rollouts', 'list rollouts');

export const ROLLOUT_COMMANDS: Command[] = [
  {
    name: 'rollouts',
    args: [],
    options: { follow: '--follow      redraw the progress bars every second until every rollout has ended, or Ctrl-C' },
    summary: 'firmware rollouts with a progress bar each (confirmed █, failed x, updating ░)',
    async run(api) {
      const rs = await rollouts(api);
      return { json: rs, text: listText(rs) };
    },
    async follow(api, _inv, print, signal) {
      const tty = process.stdout.isTTY === true;
      let lines = 0;
      while (!signal.aborted) {
        const rs = await rollouts(api);
        const text = listText(rs);
        if (tty && lines > 0) process.stdout.write(`\x1b[${lines}A\x1b[J`);
        print(rs, text);
        lines = text.split('\n').length;
        if (rs.every((r) => r.state === 'done' || r.state === 'cancelled')) return;
        await abortableSleep(FOLLOW_POLL_MS, signal);
      }
    },
  },
  ...(['pause', 'resume', 'cancel'] as const).map(
    (action): Command => ({
      name: `rollout ${action}`,
      args: ['id'],
      options: { reason: '--reason TEXT   why, kept in the audit log' },
      summary: { pause: 'pause a rollout', resume: 'resume a paused rollout', cancel: 'cancel a rollout (devices already updated keep the release)' }[action],
      async run(api, { args, values }) {
        const body = typeof values.reason === 'string' ? { reason: values.reason } : {};
        const r = await api.request<RolloutView>('POST', `/api/rollouts/${encodeURIComponent(args[0]!)}/${action}`, `${action} rollout ${args[0]}`, body);
        return { json: r, text: rolloutLine(r) };
      },
    }),
  ),
];
