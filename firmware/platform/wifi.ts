// Platform Wi-Fi on Moddable's "wifi" module. On ESP32 that module never reconnects after a
// drop (past ESP-IDF's few immediate retries) and may report "disconnect" more than once for
// one loss. This adapter turns it into one clean event stream per connect(): repeats are
// reported once and events of an abandoned attempt are dropped. Retrying, and giving up on an
// attempt that stays silent, are the core's job (with backoff and its Wi-Fi timeout, which
// ends the attempt through disconnect()), so nothing here reconnects.
import WiFi from 'wifi';
import Timer from 'timer';
import type { Wifi, WifiStatus } from '../core/platform';

const STATUS_OF: Record<string, WifiStatus | undefined> = {
  [WiFi.connected]: 'connected',
  [WiFi.gotIP]: 'gotip',
  [WiFi.lostIP]: 'lostip',
  [WiFi.disconnected]: 'disconnected',
};

export class ModdableWifi implements Wifi {
  private station: WiFi | undefined;

  connect(ssid: string, psk: string, onStatus: (status: WifiStatus) => void): void {
    this.disconnect();
    if (WiFi.mode !== WiFi.Mode.station) WiFi.mode = WiFi.Mode.station;
    let last: WifiStatus = 'connecting';
    onStatus(last);
    const station: WiFi = new WiFi(psk === '' ? { ssid } : { ssid, password: psk }, (message) => {
      const status = STATUS_OF[message];
      if (this.station !== station || status === undefined || status === last) return;
      last = status;
      // A drop is final for this attempt; stop listening so a late repeat cannot leak through.
      if (status === 'disconnected') this.forget();
      onStatus(status);
    });
    this.station = station;
  }

  disconnect(): void {
    if (this.station === undefined) return;
    this.forget();
    // Also stops an attempt still in progress, so the radio cannot associate behind the core's back.
    WiFi.disconnect();
  }

  /**
   * Stops listening. The instance must be closed, or the module keeps it (and its callback)
   * alive for good; closing is deferred a turn because this may run inside its own callback.
   */
  private forget(): void {
    const station = this.station;
    this.station = undefined;
    if (station) Timer.set(() => station.close());
  }
}
