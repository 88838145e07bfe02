// What gets written, decided before any byte moves: the device's credentials, its NVS image sized
// to the build's nvs partition, and the images in flash order. Runs in the browser too.
import { credentialEntries, type Credentials } from '../nvs/credentials';
import { NvsError } from '../nvs/format';
import { buildNvsPartition } from '../nvs/writer';
import { FlashError } from './errors';
import type { FirmwareBuild, FlashImage } from './firmware-images';

export interface CredentialInput {
  broker: string;
  /** The CA certificate (PEM) the broker must chain to, or plain MQTT allowed. */
  trust: { ca: string } | { insecure: true };
  wifi?: { ssid: string; psk?: string };
  machine?: string;
  enrollToken?: string;
  /** Release public keys (base64, comma-separated) for firmware updates (docs/architecture.md, Over-the-air updates). */
  releaseKeys?: string;
}

export function credentialsFor(input: CredentialInput, warn: (message: string) => void): Credentials {
  const creds: Credentials = { broker: input.broker };
  if ('ca' in input.trust) creds.ca = input.trust.ca;
  else creds.insecure = '1';
  if (input.wifi) {
    creds.ssid = input.wifi.ssid;
    if (input.wifi.psk !== undefined) creds.psk = input.wifi.psk;
  } else {
    warn('no Wi-Fi network given: the firmware waits at boot until it gets one over Improv (npm run flash -- improv)');
  }
  if (input.machine) creds.machine = input.machine;
  if (input.enrollToken !== undefined) creds.enroll = input.enrollToken;
  if (input.releaseKeys !== undefined) creds.otakey = input.releaseKeys;
  return creds;
}

export function nvsImageFor(creds: Credentials, build: FirmwareBuild): FlashImage {
  try {
    return { name: 'nvs', offset: build.nvs.offset, data: buildNvsPartition(credentialEntries(creds), build.nvs.size), file: 'nvs.bin' };
  } catch (e) {
    if (e instanceof NvsError) throw new FlashError('BUILD_INVALID', `the credentials do not fit the build's nvs partition: ${e.message}`);
    throw e;
  }
}

export function imagesToWrite(build: FirmwareBuild, nvs: FlashImage, nvsOnly: boolean): FlashImage[] {
  if (nvsOnly) return [nvs];
  const all = [build.bootloader, build.partitionTable, nvs, build.app];
  if (build.otaData) all.push(build.otaData);
  return all.sort((a, b) => a.offset - b.offset);
}

/** esptool-js's flash size names ("4MB") in bytes. */
export function flashBytes(size: string | null): number | null {
  const m = size ? /^(\d+)(KB|MB)$/.exec(size) : null;
  return m ? Number(m[1]) * (m[2] === 'MB' ? 1024 * 1024 : 1024) : null;
}
