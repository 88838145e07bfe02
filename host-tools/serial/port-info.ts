// USB vendor and product ids of a port, for W3C SerialPort.getInfo(). esptool-js picks its reset
// sequence from them (Espressif's USB-Serial/JTAG, 303a:1001, needs a different one than a USB-UART
// bridge), so they must be right, not merely present.
//
// On Linux they are read from sysfs: serialport's list() runs `udevadm info -e` and, where udevadm
// is missing (containers, minimal images), the child process's spawn error is unhandled and kills
// the process (@serialport/bindings-cpp 13, linux-list).
import { readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SerialPort } from 'serialport';

export interface UsbIds {
  usbVendorId?: number;
  usbProductId?: number;
}

async function canonical(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}

async function readHex(path: string): Promise<number | null> {
  try {
    return parseInt((await readFile(path, 'utf8')).trim(), 16);
  } catch {
    return null;
  }
}

/** The USB ids of the tty named `name` (ttyUSB0), from sysfs under `sysRoot`. */
export async function ttyUsbIds(name: string, sysRoot = '/sys'): Promise<UsbIds> {
  let dir: string;
  try {
    dir = await realpath(join(sysRoot, 'class', 'tty', name, 'device'));
  } catch {
    return {}; // not a device with a sysfs node: a pty, for instance
  }
  const top = await canonical(sysRoot);
  // The tty's device is a USB interface; idVendor/idProduct live on the USB device above it.
  for (; dir !== '/' && dir.startsWith(`${top}/`); dir = dirname(dir)) {
    const vendor = await readHex(join(dir, 'idVendor'));
    const product = await readHex(join(dir, 'idProduct'));
    if (vendor !== null && product !== null) return { usbVendorId: vendor, usbProductId: product };
  }
  return {};
}

async function listedUsbIds(path: string): Promise<UsbIds> {
  const wanted = await canonical(path);
  for (const port of await SerialPort.list()) {
    if ((await canonical(port.path)) !== wanted) continue;
    const ids: UsbIds = {};
    if (port.vendorId) ids.usbVendorId = parseInt(port.vendorId, 16);
    if (port.productId) ids.usbProductId = parseInt(port.productId, 16);
    return ids;
  }
  return {};
}

export function lookUpUsbIds(path: string): Promise<UsbIds> {
  return process.platform === 'linux' ? canonical(path).then((p) => ttyUsbIds(basename(p))) : listedUsbIds(path);
}
