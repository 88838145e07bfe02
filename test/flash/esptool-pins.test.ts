// esptool-js 0.7.0 behaviours the flasher is built around, pinned against the emulator so that an
// upgrade that changes one of them fails here rather than on a bench:
// - main() always uploads the flasher stub;
// - after('hard_reset') only releases RTS, so the chip is never reset;
// - a rate change uses the port's setBaudRate() in place when it exists, else closes and reopens
//   the port (the in-place path is where serialport's flushing update() matters: see
//   test/unit/serial-web-serial-port.test.ts);
// - when the link cannot carry the fast rate, it resets the chip and carries on at 115200.
import { ESPLoader, Transport } from 'esptool-js';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { connectSignalTap, type SignalTap } from '../../host-tools/serial/signal-tap';
import { NodeWebSerialPort } from '../../host-tools/serial/web-serial-port';
import { startRig, type EmulatorEvent, type Rig, type RigOptions } from '../emulator/rig';
import { requireTool } from '../helpers/tools';

interface Session {
  rig: Rig;
  tap: SignalTap;
  transport: Transport;
  loader: ESPLoader;
  close(): Promise<void>;
}

const silent = { clean() {}, write() {}, writeLine() {} };

async function session(options: { baud: number; rig?: RigOptions; hideSetBaudRate?: boolean }): Promise<Session> {
  const rig = await startRig(options.rig);
  const tap = await connectSignalTap(rig.tapPath);
  const port = new NodeWebSerialPort(rig.hostPath, { tap });
  // A port without the in-place extension, as a browser's SerialPort is.
  const device = options.hideSetBaudRate ? new Proxy(port, { get: (t, k) => (k === 'setBaudRate' ? undefined : Reflect.get(t, k, t)) }) : port;
  const transport = new Transport(device);
  transport.trace = () => {};
  const loader = new ESPLoader({ transport, baudrate: options.baud, romBaudrate: 115200, terminal: silent });
  return {
    rig,
    tap,
    transport,
    loader,
    async close() {
      if (port.connected) await transport.disconnect();
      tap.close();
      await rig.stop();
    },
  };
}

const after = (events: EmulatorEvent[], index: number): EmulatorEvent[] => events.slice(index);
/** What happened from the CHANGE_BAUDRATE command up to the next command. */
function aroundRateChange(events: EmulatorEvent[]): EmulatorEvent[] {
  const from = events.findIndex((e) => e.ev === 'command' && e.op === 'CHANGE_BAUDRATE');
  return events.slice(
    from,
    events.findIndex((e, i) => i > from && e.ev === 'command'),
  );
}
const ops = (events: EmulatorEvent[]): unknown[] => events.filter((e) => e.ev === 'command').map((e) => e.op);
const test = suite('esptool-js 0.7.0 pins');

test('main() uploads the flasher stub even when nothing asks for it', async () => {
  requireTool('socat', 'socat');
  const s = await session({ baud: 115200 });
  try {
    await s.loader.main();
    const events = s.rig.events();
    assert.equal(
      ops(events).filter((op) => op === 'MEM_BEGIN' || op === 'MEM_END'),
      ['MEM_BEGIN', 'MEM_BEGIN', 'MEM_END'],
    );
    assert.ok(events.some((e) => e.ev === 'stub-running'));
    assert.is(s.loader.IS_STUB, true);
  } finally {
    await s.close();
  }
});

test("after('hard_reset') never pulls EN low: the chip stays in the stub; a custom sequence does reset it", async () => {
  requireTool('socat', 'socat');
  const s = await session({ baud: 115200 });
  try {
    await s.loader.main();
    const mark = s.rig.events().length;
    await s.loader.after('hard_reset', false);
    const since = after(s.rig.events(), mark);
    assert.ok(
      since.some((e) => e.ev === 'signals'),
      'it does touch the lines',
    );
    assert.not.ok(
      since.some((e) => e.ev === 'reset' || e.ev === 'boot'),
      'but the chip is not reset',
    );
    assert.is(await s.loader.readReg(0x40001000), 0x00f01d83, 'the stub still answers');

    const mark2 = s.rig.events().length;
    await s.loader.after('custom_reset', false, 'D0|R1|W100|R0');
    const reset = after(s.rig.events(), mark2).filter((e) => e.ev === 'reset' || e.ev === 'boot');
    assert.equal(
      reset.map((e) => [e.ev, e.mode]),
      [
        ['reset', undefined],
        ['boot', 'spi'],
      ],
    );
  } finally {
    await s.close();
  }
});

test('a rate change uses setBaudRate() in place when the port has it', async () => {
  requireTool('socat', 'socat');
  const s = await session({ baud: 921600 });
  try {
    await s.loader.main();
    const between = aroundRateChange(s.rig.events());
    assert.ok(between.some((e) => e.ev === 'host-baud' && e.baud === 921600));
    assert.not.ok(
      between.some((e) => e.ev === 'signals'),
      'the port was not closed and reopened',
    );
    assert.is(s.transport.baudrate, 921600);
  } finally {
    await s.close();
  }
});

test('without setBaudRate() the port is closed and reopened at the new rate', async () => {
  requireTool('socat', 'socat');
  const s = await session({ baud: 921600, hideSetBaudRate: true });
  try {
    await s.loader.main();
    const between = aroundRateChange(s.rig.events());
    assert.equal(
      between.filter((e) => e.ev === 'signals').map((e) => [e.dtr, e.rts]),
      [
        [false, false],
        [true, true],
      ],
      'close drops DTR/RTS, open raises them',
    );
    assert.ok(between.some((e) => e.ev === 'host-baud' && e.baud === 921600));
  } finally {
    await s.close();
  }
});

test('when the link cannot carry the fast rate, it resets the chip and carries on at 115200', async () => {
  requireTool('socat', 'socat');
  const s = await session({ baud: 921600, rig: { maxBaud: 115200 } });
  try {
    await s.loader.main();
    const events = s.rig.events();
    assert.ok(events.some((e) => e.ev === 'garbled'));
    assert.is(events.filter((e) => e.ev === 'boot' && e.mode === 'download').length, 2, 'reset into the ROM a second time');
    assert.is(events.filter((e) => e.ev === 'stub-running').length, 2, 'and the stub uploaded again');
    assert.is(s.transport.baudrate, 115200);
    assert.is(await s.loader.readReg(0x40001000), 0x00f01d83);
  } finally {
    await s.close();
  }
});

test.run();
