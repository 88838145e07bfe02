// Growth of a memory series over a soak, measured so that a sawtooth does not decide it: V8
// commits old space as the heap fills and gives it back after a major GC, so RSS swings by tens
// of MiB, and the last sample minus the first says more about where in a swing each fell than
// about a leak. The least-squares line through every sample after warm-up, from its value at the
// first sample's time to its value at the last, is the trend; it is given as a share of the mean.
export interface Point {
  t: number;
  v: number;
}

export function trendGrowth(points: Point[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  const cov = points.reduce((a, p) => a + (p.t - mt) * (p.v - mv), 0);
  const vt = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  const slope = vt === 0 ? 0 : cov / vt;
  return (slope * (points[n - 1]!.t - points[0]!.t)) / mv;
}
