// The W3C SerialPort adapter over `serialport`, on a real pty pair (socat): bytes both ways, the
// stream lifecycle the spec gives, signals and rates through the tap, open failures by kind, and
// the serialport behaviour that makes an in-place rate change delicate.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { SerialPort } from 'serialport';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { SerialPortOpenError } from '../../host-tools/serial/open-error';
import { connectSignalTap, type TapMessage } from '../../host-tools/serial/signal-tap';
import { NodeWebSerialPort } from '../../host-tools/serial/web-serial-port';
import { startControlServer } from '../emulator/control-server';
import { startPtyPair, type PtyPair } from '../emulator/pty-pair';
import { requireTool } from '../helpers/tools';
import { waitUntil } from '../helpers/wait';

interface Ctx {
  dir: string;
  pair: PtyPair;
  peer: SerialPort;
  received: Buffer[];
}

const test = suite<Ctx>('serial: NodeWebSerialPort on a pty');

function call(fn: (cb: (err: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
}

async function readAtLeast(reader: ReadableStreamDefaultReader<Uint8Array>, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(Buffer.from(value));
    got += value.length;
  }
  return Buffer.concat(chunks);
}

test.before(() => requireTool('socat', 'socat'));

test.before.each(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'fleetbind-serial-'));
  ctx.pair = await startPtyPair(ctx.dir);
  ctx.peer = new SerialPort({ path: ctx.pair.b, baudRate: 115200, autoOpen: false });
  await call((cb) => ctx.peer.open(cb));
  ctx.received = [];
  ctx.peer.on('data', (d: Buffer) => ctx.received.push(d));
});

test.after.each(async (ctx) => {
  if (ctx.peer.isOpen) await call((cb) => ctx.peer.close(cb));
  await ctx.pair.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

test('bytes go both ways through writable and readable', async (ctx) => {
  const port = new NodeWebSerialPort(ctx.pair.a);
  await port.open({ baudRate: 115200 });
  const writer = port.writable!.getWriter();
  await writer.write(Uint8Array.from([0xc0, 0x00, 0x08, 0xc0]));
  writer.releaseLock();
  await waitUntil(() => Buffer.concat(ctx.received).length >= 4, 2000, 'the peer to receive 4 bytes');
  assert.equal([...Buffer.concat(ctx.received)], [0xc0, 0x00, 0x08, 0xc0]);

  const reader = port.readable!.getReader();
  ctx.peer.write(Buffer.from('hello, host'));
  assert.is((await readAtLeast(reader, 11)).toString(), 'hello, host');
  reader.releaseLock();
  await port.close();
  assert.is(port.readable, null);
  assert.is(port.writable, null);
});

test('a cancelled readable is replaced by a fresh one on the next access, and data keeps flowing', async (ctx) => {
  const port = new NodeWebSerialPort(ctx.pair.a);
  await port.open({ baudRate: 115200 });
  const first = port.readable!;
  await first.getReader().cancel();
  const second = port.readable!;
  assert.is.not(second, first);
  const reader = second.getReader();
  ctx.peer.write(Buffer.from('again'));
  assert.is((await readAtLeast(reader, 5)).toString(), 'again');
  reader.releaseLock();
  await port.close();
});

test('close() refuses while a stream is locked, as the spec says', async (ctx) => {
  const port = new NodeWebSerialPort(ctx.pair.a);
  await port.open({ baudRate: 115200 });
  const reader = port.readable!.getReader();
  try {
    await port.close();
    assert.unreachable('close with a locked readable');
  } catch (e) {
    assert.is((e as DOMException).name, 'InvalidStateError');
  }
  reader.releaseLock();
  await port.close();
  await port.open({ baudRate: 115200 });
  await port.close();
});

test('a pty has no DTR/RTS: setSignals warns once and reports that signals do not reach the device', async (ctx) => {
  const warnings: string[] = [];
  const port = new NodeWebSerialPort(ctx.pair.a, { onWarning: (w) => warnings.push(w) });
  await port.open({ baudRate: 115200 });
  await port.setSignals({ dataTerminalReady: false, requestToSend: true });
  await port.setSignals({ requestToSend: false });
  assert.is(warnings.length, 1);
  assert.match(warnings[0]!, /no DTR\/RTS/);
  assert.is(port.signalsReachDevice, false);
  assert.equal(port.getInfo(), {}, 'a pty is not a USB device');
  await port.close();
});

test('the tap receives the rate on open, every line change merged with the current state, and the drop on close', async (ctx) => {
  const seen: TapMessage[] = [];
  const server: Server = await startControlServer(
    join(ctx.dir, 'tap.sock'),
    async (m) => {
      seen.push(m as TapMessage);
    },
    () => {},
  );
  const tap = await connectSignalTap(join(ctx.dir, 'tap.sock'));
  const port = new NodeWebSerialPort(ctx.pair.a, { tap });
  await port.open({ baudRate: 115200 });
  await port.setSignals({ dataTerminalReady: false, requestToSend: true });
  await port.setSignals({ requestToSend: false });
  await port.setBaudRate(460800);
  await port.close();
  tap.close();
  server.close();
  assert.equal(seen, [
    { baud: 115200 },
    { signals: { dtr: true, rts: true, brk: false } },
    { signals: { dtr: false, rts: true, brk: false } },
    { signals: { dtr: false, rts: false, brk: false } },
    { baud: 460800 },
    { signals: { dtr: false, rts: false, brk: false } },
  ]);
  assert.is(port.signalsReachDevice, true);
});

test('open failures say what is wrong: no such port, port busy', async (ctx) => {
  try {
    await new NodeWebSerialPort(join(ctx.dir, 'nothing-here')).open({ baudRate: 115200 });
    assert.unreachable('opened a missing port');
  } catch (e) {
    assert.instance(e, SerialPortOpenError);
    assert.is((e as SerialPortOpenError).reason, 'not-found');
  }
  // The peer holds an exclusive lock on b (serialport's default), as another flasher or monitor would.
  try {
    await new NodeWebSerialPort(ctx.pair.b).open({ baudRate: 115200 });
    assert.unreachable('opened a locked port');
  } catch (e) {
    assert.is((e as SerialPortOpenError).reason, 'busy');
    assert.match((e as Error).message, /busy/);
  }
});

test('pinned: serialport update() discards input waiting in the OS (why setBaudRate keeps a read pending)', async (ctx) => {
  // A port that has never been read from leaves incoming bytes in the OS queue.
  const held = async (changeRate: boolean): Promise<string> => {
    const port = new SerialPort({ path: ctx.pair.a, baudRate: 115200, autoOpen: false });
    await call((cb) => port.open(cb));
    ctx.peer.write(Buffer.from('held'));
    await call((cb) => ctx.peer.drain(cb));
    await new Promise((r) => setTimeout(r, 100));
    if (changeRate) await call((cb) => port.update({ baudRate: 921600 }, cb));
    const got: Buffer[] = [];
    port.on('data', (d: Buffer) => got.push(d));
    ctx.peer.write(Buffer.from('|next'));
    await waitUntil(() => Buffer.concat(got).toString().endsWith('|next'), 2000, "'|next' at the port");
    await call((cb) => port.close(cb));
    return Buffer.concat(got).toString();
  };
  assert.is(await held(false), 'held|next', 'control: without a rate change the bytes wait for the reader');
  assert.is(await held(true), '|next', 'update() flushed them');
});

test('setBaudRate keeps bytes already received, and the port writes on at the new rate', async (ctx) => {
  const port = new NodeWebSerialPort(ctx.pair.a);
  await port.open({ baudRate: 115200 });
  const reader = port.readable!.getReader();
  ctx.peer.write(Buffer.from('before'));
  await call((cb) => ctx.peer.drain(cb));
  await new Promise((r) => setTimeout(r, 50));
  const writer = port.writable!.getWriter();
  await writer.write(Buffer.from('out'));
  // serialport's rate change flushes both OS queues (TCIOFLUSH) after the drain. On a UART the
  // drain waits until the bytes are on the wire; on a pty it does not wait for socat to read them,
  // so on a loaded machine they could be flushed: the pty can only show that they arrive.
  await waitUntil(() => Buffer.concat(ctx.received).length >= 3, 5000, 'the peer to receive 3 bytes');
  await port.setBaudRate(921600);
  ctx.peer.write(Buffer.from('|after'));
  assert.is((await readAtLeast(reader, 12)).toString(), 'before|after');
  await writer.write(Buffer.from('|more'));
  writer.releaseLock();
  await waitUntil(() => Buffer.concat(ctx.received).length >= 8, 5000, 'the peer to receive 8 bytes');
  assert.is(Buffer.concat(ctx.received).toString(), 'out|more');
  reader.releaseLock();
  await port.close();
});

test.run();
