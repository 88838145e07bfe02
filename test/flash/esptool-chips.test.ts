// The emulator answers as an ESP32, an ESP32-S3 or an ESP32-C3 the way each ROM does, so the real
// esptool-js identifies each one, reads its MAC and description, runs the chip's own flasher stub
// and reads the flash id, touching no register the model does not know.
import { ESPLoader, Transport } from 'esptool-js';
import * as assert from 'uvu/assert';
import { connectSignalTap } from '../../host-tools/serial/signal-tap';
import { NodeWebSerialPort } from '../../host-tools/serial/web-serial-port';
import { startRig } from '../emulator/rig';
import { suite } from '../helpers/suite';
import { requireTool } from '../helpers/tools';

const silent = { clean() {}, write() {}, writeLine() {} };
const test = suite('esptool-js identifies each emulated chip');

const CASES = [
  { chip: 'esp32', name: 'ESP32', description: /^ESP32-D0WD-V3 \(revision 3\)$/, mac: '24:0a:c4:00:00:11' },
  { chip: 'esp32s3', name: 'ESP32-S3', description: /^ESP32-S3 \(QFN56\) \(revision v0\.2\)$/, mac: '34:85:18:00:00:12' },
  { chip: 'esp32c3', name: 'ESP32-C3', description: /^ESP32-C3 \(QFN32\) \(revision v0\.4\)$/, mac: '58:cf:79:00:00:13' },
];

for (const c of CASES) {
  test(`${c.name}: detected, described, stub running, flash id read`, async () => {
    requireTool('socat', 'socat');
    const rig = await startRig({ chip: c.chip, mac: c.mac });
    const tap = await connectSignalTap(rig.tapPath);
    const transport = new Transport(new NodeWebSerialPort(rig.hostPath, { tap }));
    transport.trace = () => {};
    try {
      const loader = new ESPLoader({ transport, baudrate: 460800, romBaudrate: 115200, terminal: silent });
      await loader.main();
      assert.is(loader.chip.CHIP_NAME, c.name);
      assert.match(await loader.chip.getChipDescription(loader), c.description, await loader.chip.getChipDescription(loader));
      assert.is(await loader.chip.readMac(loader), c.mac);
      assert.is(loader.IS_STUB, true);
      assert.is(await loader.readFlashId(), 0x1640ef);
      const events = rig.events();
      assert.equal(
        events.filter((e) => e.ev === 'unmodelled-register'),
        [],
        'every register esptool-js read is modelled',
      );
      assert.ok(events.some((e) => e.ev === 'stub-running'));
    } finally {
      await transport.disconnect();
      tap.close();
      await rig.stop();
    }
  });
}

test.run();
