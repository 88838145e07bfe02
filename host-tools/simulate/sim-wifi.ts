// Platform Wi-Fi for a simulated device: the network is always there and an attempt succeeds
// after a short, random association delay, unless chaos drops the link (as an ESP32 reports a
// lost access point: "disconnected", after which nothing happens until the core reconnects).
// With an access point given, only its SSID and passphrase get in; any other attempt ends in
// "disconnected" after the association delay, as an ESP32 reports a wrong passphrase.
import type { Wifi, WifiStatus } from '../../firmware/core/platform';

export class SimWifi implements Wifi {
  private onStatus: ((status: WifiStatus) => void) | null = null;
  private pending: NodeJS.Timeout[] = [];
  connects = 0;

  constructor(
    private readonly associateMs: () => number,
    private readonly accessPoint?: { ssid: string; psk: string },
  ) {}

  connect(ssid: string, psk: string, onStatus: (status: WifiStatus) => void): void {
    this.disconnect();
    this.connects++;
    this.onStatus = onStatus;
    onStatus('connecting');
    const half = this.associateMs() / 2;
    if (this.accessPoint && (ssid !== this.accessPoint.ssid || psk !== this.accessPoint.psk)) {
      this.later(2 * half, 'disconnected');
      return;
    }
    this.later(half, 'connected');
    this.later(2 * half, 'gotip');
  }

  disconnect(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending = [];
    this.onStatus = null;
  }

  /** Chaos: the access point goes away. Returns false when the device had no link. */
  drop(): boolean {
    const onStatus = this.onStatus;
    if (!onStatus) return false;
    this.disconnect();
    onStatus('disconnected');
    return true;
  }

  private later(ms: number, status: WifiStatus): void {
    const onStatus = this.onStatus;
    this.pending.push(setTimeout(() => onStatus?.(status), ms));
  }
}
