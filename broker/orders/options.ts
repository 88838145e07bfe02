// Settings of walk-up orders (docs/architecture.md, "Walk-up orders"), one group of broker options.

export interface OrderOptions {
  /** Largest design upload in bytes; a larger one is refused TOO_LARGE. */
  uploadMaxBytes: number;
  /** A customer session ends after this long without a request. */
  sessionIdleMs: number;
  /** A customer session ends this long after it opened, however active. */
  sessionMaxMs: number;
  /** Most pixels an upload may decode to; more is a decompression bomb. */
  maxPixels: number;
  /** Most decoded bytes (RGBA) per uploaded byte; more is a decompression bomb. */
  maxRatio: number;
  /** Orders per hour, per customer session and per client address. */
  ordersPerHour: number;
  /** Design uploads per hour, per customer session and per client address. */
  uploadsPerHour: number;
  /** Bytes of design uploads per hour, per customer session, per machine and per client address. */
  uploadBytesPerHour: { session: number; machine: number; address: number };
  /** How long a signed design URL sent to a device stays valid. */
  fetchUrlTtlMs: number;
}

export const ORDER_DEFAULTS: OrderOptions = {
  uploadMaxBytes: 10 * 1024 * 1024,
  sessionIdleMs: 15 * 60_000,
  sessionMaxMs: 4 * 3600_000,
  maxPixels: 40_000_000,
  maxRatio: 2000,
  ordersPerHour: 10,
  uploadsPerHour: 30,
  uploadBytesPerHour: { session: 100 * 1024 * 1024, machine: 2 * 1024 * 1024 * 1024, address: 300 * 1024 * 1024 },
  fetchUrlTtlMs: 15 * 60_000,
};
