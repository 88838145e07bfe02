// Reads values out of the broker's Prometheus text (GET /metrics).

/** The value of one sample, e.g. metric(text, 'fleetbind_acl_denials_total', { rule: 'retain' }); 0 when absent. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line.trim());
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (want.every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return 0;
}
