// A small chart of a machine's consumable levels over the last days (docs/architecture.md,
// Machine state, History), from GET /api/machines/<code>/history. It reloads when `version`
// changes (a new shadow), so a sample taken by the broker shows up without a refresh.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { consumableWords } from '../../../protocol/machine-state';
import type { HistorySample } from '../../../protocol/rest';
import { authed } from '../lib/session';
import { dateTime, errorText, since } from '../lib/words';
import { Alert } from './ui';

const DAYS = 7;
const W = 320;
const H = 120;
const PAD = { left: 30, right: 8, top: 8, bottom: 18 };
const COLOURS: Record<string, string> = { 'ink.c': '#00a3d9', 'ink.m': '#d6007e', 'ink.y': '#c9a200', 'ink.k': '#1c1c1c', paper: '#6b7280' };
const PREFIX = 'consumables.';

export function HistoryChart(props: { machine: string; version: number | undefined }): JSX.Element {
  const [samples, setSamples] = useState<HistorySample[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    const from = Date.now() - DAYS * 86_400_000;
    authed<HistorySample[]>('GET', `/api/machines/${encodeURIComponent(props.machine)}/history?from=${from}`).then(
      (r) => current && (setSamples(r), setError(null)),
      (err: unknown) => current && setError(errorText(err)),
    );
    return () => void (current = false);
  }, [props.machine, props.version]);

  if (error) return <Alert>{error}</Alert>;
  if (samples === null) return <p class="hint">Loading…</p>;
  const series = new Map<string, HistorySample[]>();
  for (const s of samples) if (s.field.startsWith(PREFIX)) series.set(s.field.slice(PREFIX.length), [...(series.get(s.field.slice(PREFIX.length)) ?? []), s]);
  if (series.size === 0)
    return (
      <p class="hint" data-testid="history-empty">
        No levels recorded in the last {DAYS} days.
      </p>
    );

  const times = samples.map((s) => s.at);
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const x = (at: number): number => PAD.left + (t1 === t0 ? (W - PAD.left - PAD.right) / 2 : ((at - t0) / (t1 - t0)) * (W - PAD.left - PAD.right));
  const y = (level: number): number => PAD.top + (1 - Math.max(0, Math.min(100, level)) / 100) * (H - PAD.top - PAD.bottom);
  const names = [...series.keys()].sort();
  return (
    <figure class="history-chart" data-testid="history-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Levels from ${dateTime(t0)} to ${dateTime(t1)}`}>
        {[0, 50, 100].map((v) => (
          <g key={v} class="grid">
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} />
            <text x={PAD.left - 4} y={y(v) + 3} text-anchor="end">
              {v}%
            </text>
          </g>
        ))}
        {names.map((name) => {
          const pts = series.get(name)!;
          const colour = COLOURS[name] ?? '#0d3b73';
          return pts.length === 1 ? (
            <circle key={name} data-field={name} data-points={1} cx={x(pts[0]!.at)} cy={y(pts[0]!.value)} r={3} fill={colour} />
          ) : (
            <polyline
              key={name}
              data-field={name}
              data-points={pts.length}
              points={pts.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')}
              fill="none"
              stroke={colour}
              stroke-width={2}
              stroke-linejoin="round"
            />
          );
        })}
        <text x={PAD.left} y={H - 4}>
          {since(t0)}
        </text>
        <text x={W - PAD.right} y={H - 4} text-anchor="end">
          {since(t1)}
        </text>
      </svg>
      <figcaption>
        <ul class="legend">
          {names.map((name) => {
            const pts = series.get(name)!;
            return (
              <li key={name}>
                <span class="swatch" style={{ background: COLOURS[name] ?? '#0d3b73' }} />
                {consumableWords(name)}: {pts[pts.length - 1]!.value}%
              </li>
            );
          })}
        </ul>
      </figcaption>
    </figure>
  );
}
