// Plain-text tables for the terminal: a header row and left-aligned columns two spaces apart.
export type Row = Array<string | number | null | undefined>;

const cell = (v: string | number | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : String(v));

export function table(headers: string[], rows: Row[]): string {
  const cells = [headers, ...rows.map((r) => r.map(cell))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** Milliseconds since the epoch as UTC to the second, the same wherever the command runs. */
export function time(ms: number | null | undefined): string {
  return ms === null || ms === undefined || ms === 0 ? '-' : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** A level 0-100 as a bar of `cells` blocks, e.g. "███░░ 62". */
export function bar(level: number | undefined, cells = 5): string {
  if (level === undefined) return '-';
  const full = Math.round((Math.max(0, Math.min(100, level)) / 100) * cells);
  return `${'█'.repeat(full)}${'░'.repeat(cells - full)} ${String(Math.round(level)).padStart(3)}`;
}
