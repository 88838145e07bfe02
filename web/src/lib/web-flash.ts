/// <reference types="w3c-web-serial" />
// Flashing from the browser: the port the admin picks through Web Serial, the same steps as
// `npm run flash` (host-tools/flash/flash-device.ts), and the same provisioning call with the
// admin's own session token. Logs go to the browser console at debug level; secrets never do.
import { flashDevice, type DeviceIdentity, type DeviceSummary, type FlashReporter } from '../../../host-tools/flash/flash-device';
import type { FirmwareBuild } from '../../../host-tools/flash/firmware-images';
import type { FlashLog } from '../../../host-tools/flash/flash-log';
import { ProvisioningClient } from '../../../host-tools/flash/provisioning';
import type { Trust } from '../../../host-tools/flash/trust';

export interface WebFlashForm {
  broker: string;
  trust: Trust;
  identity: { kind: 'provision'; reprovision: boolean } | { kind: 'enroll'; token: string };
  wifi?: { ssid: string; psk?: string };
  machine?: string;
  erase: boolean;
  baud: number;
}

const consoleLog: FlashLog = {
  trace: () => {},
  debug: (obj, msg) => console.debug(msg, obj),
  info: (obj, msg) => console.info(msg, obj),
  warn: (obj, msg) => console.warn(msg ?? obj, typeof obj === 'string' ? '' : obj),
  error: (obj, msg) => console.error(msg, obj),
};

export async function flashInBrowser(
  port: SerialPort,
  builds: FirmwareBuild[],
  form: WebFlashForm,
  token: string,
  reporter: FlashReporter & { warn(message: string): void },
): Promise<DeviceSummary> {
  const identity: DeviceIdentity =
    form.identity.kind === 'provision'
      ? { kind: 'provision', registry: new ProvisioningClient(location.origin, token), reprovision: form.identity.reprovision }
      : { kind: 'enroll', token: form.identity.token };
  return flashDevice(
    { port, label: 'the selected serial port', signalsReachDevice: () => true },
    {
      builds,
      broker: form.broker,
      trust: form.trust,
      identity,
      ...(form.wifi ? { wifi: form.wifi } : {}),
      ...(form.machine ? { machine: form.machine } : {}),
      erase: form.erase,
      nvsOnly: false,
      baud: form.baud,
      monitor: null,
    },
    { log: consoleLog, reporter, warn: (m) => reporter.warn(m), onInterrupt: () => () => {} },
  );
}
