// Which of the loaded builds fits the chip on the port (or the one named with --chip).
import { FlashError } from './errors';
import type { FirmwareBuild } from './firmware-images';

export function builtFor(builds: FirmwareBuild[]): string {
  return builds.map((b) => b.chip.name).join(', ');
}

export function pickBuild(builds: FirmwareBuild[], chipName: string, where: string): FirmwareBuild {
  const build = builds.find((b) => b.chip.name === chipName);
  if (!build) throw new FlashError('WRONG_CHIP', `the device ${where} is an ${chipName}; this firmware is built for the ${builtFor(builds)}`);
  return build;
}
