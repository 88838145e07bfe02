// Reads that many callers want at the same moment (a metrics scrape asks several gauges for the
// same fleet-wide count) are done once: whoever asks while one is under way, or in the turn of the
// event loop it ends in, gets its result.
export function sharedRead<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => (pending ??= read().finally(() => setImmediate(() => (pending = null))));
}
