// The USB serial ports on this machine, with their ids and a guess at the board, for
// `--port auto` and for saying what exists when a port is missing. On Linux from sysfs (see
// port-info.ts for why not serialport's list()); FLEETBIND_SYSFS_ROOT and FLEETBIND_DEV_ROOT move
// the roots, for containers that mount them elsewhere and for tests.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { ttyUsbIds } from './port-info';
import { chipGuess, usbIdText } from './usb-bridges';

export interface ListedPort {
  path: string;
  usbVendorId: number;
  usbProductId: number;
  guess: string;
}

async function linuxPorts(sysRoot: string, devRoot: string): Promise<ListedPort[]> {
  let names: string[];
  try {
    names = await readdir(join(sysRoot, 'class', 'tty'));
  } catch {
    return [];
  }
  const ports: ListedPort[] = [];
  for (const name of names.sort()) {
    const ids = await ttyUsbIds(name, sysRoot);
    if (ids.usbVendorId === undefined || ids.usbProductId === undefined) continue;
    ports.push({
      path: join(devRoot, name),
      usbVendorId: ids.usbVendorId,
      usbProductId: ids.usbProductId,
      guess: chipGuess(ids.usbVendorId, ids.usbProductId),
    });
  }
  return ports;
}

async function listedPorts(): Promise<ListedPort[]> {
  return (await SerialPort.list())
    .filter((p) => p.vendorId && p.productId)
    .map((p) => {
      const vid = parseInt(p.vendorId!, 16);
      const pid = parseInt(p.productId!, 16);
      return { path: p.path, usbVendorId: vid, usbProductId: pid, guess: chipGuess(vid, pid) };
    });
}

export function listUsbSerialPorts(env: NodeJS.ProcessEnv = process.env): Promise<ListedPort[]> {
  if (process.platform !== 'linux') return listedPorts();
  return linuxPorts(env.FLEETBIND_SYSFS_ROOT ?? '/sys', env.FLEETBIND_DEV_ROOT ?? '/dev');
}

export function describePorts(ports: ListedPort[]): string {
  if (ports.length === 0) return 'no USB serial ports are connected';
  return ports.map((p) => `${p.path} (${usbIdText(p.usbVendorId, p.usbProductId)}, ${p.guess})`).join('; ');
}
