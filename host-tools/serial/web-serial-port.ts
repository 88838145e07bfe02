/// <reference types="w3c-web-serial" />
// A W3C Web Serial `SerialPort` (https://wicg.github.io/serial/) over the `serialport` package, so
// code written for browsers — esptool-js's Transport — runs unchanged from Node.
//
// Semantics kept from the spec: `readable`/`writable` exist only while open and are created afresh
// on the next access after a reader cancels or a writer closes; close() refuses while a stream is
// locked; setSignals() changes only the lines it names. Additions: setBaudRate(), which esptool-js
// 0.7.0 uses when present to change the rate without reopening the port, and an optional signal
// tap (see signal-tap.ts) that receives every line change and rate, for emulators behind a pty.
import { SerialPort as NodeSerialPort } from 'serialport';
import { classifyOpenError } from './open-error';
import { lookUpUsbIds, type UsbIds } from './port-info';
import type { SignalTap, TapSignals } from './signal-tap';

export interface WebSerialPortOptions {
  tap?: SignalTap;
  /** Told once when the port turns out to have no modem-control lines (a pty, some virtual ports). */
  onWarning?: (message: string) => void;
}

// The spec's default bufferSize is 255 bytes. That bound only decides how early we stop pulling
// from the OS; a larger one saves a pause/resume per chunk at 921600 baud and changes nothing else.
const DEFAULT_BUFFER_SIZE = 64 * 1024;

function call(fn: (cb: (err: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
}

function isMissingModemLines(err: Error): boolean {
  return /Inappropriate ioctl for device|ENOTTY/i.test(err.message);
}

export class NodeWebSerialPort extends EventTarget {
  onconnect: ((ev: Event) => void) | null = null;
  ondisconnect: ((ev: Event) => void) | null = null;

  private port: NodeSerialPort | null = null;
  private info: UsbIds = {};
  private bufferSize = DEFAULT_BUFFER_SIZE;
  private reading: { stream: ReadableStream<Uint8Array>; controller: ReadableStreamDefaultController<Uint8Array> } | null = null;
  private writing: WritableStream<Uint8Array> | null = null;
  private lines: TapSignals = { dtr: false, rts: false, brk: false };
  private modemLines = true;

  constructor(
    readonly path: string,
    private readonly options: WebSerialPortOptions = {},
  ) {
    super();
  }

  get connected(): boolean {
    return this.port?.isOpen ?? false;
  }

  /** False once setting DTR/RTS failed because the port has no such lines and no tap carries them. */
  get signalsReachDevice(): boolean {
    return this.modemLines || this.options.tap !== undefined;
  }

  getInfo(): UsbIds {
    return { ...this.info };
  }

  async open(options: SerialOptions): Promise<void> {
    if (this.port) throw new DOMException('The port is already open.', 'InvalidStateError');
    const port = new NodeSerialPort({
      path: this.path,
      baudRate: options.baudRate,
      dataBits: options.dataBits ?? 8,
      stopBits: options.stopBits ?? 1,
      parity: options.parity ?? 'none',
      rtscts: options.flowControl === 'hardware',
      autoOpen: false,
    });
    try {
      await call((cb) => port.open(cb));
    } catch (e) {
      throw classifyOpenError(this.path, e as Error);
    }
    // Nothing flows until a reader pulls; unread bytes wait in the stream buffer, then the OS.
    port.on('data', (chunk: Buffer) => this.deliver(chunk));
    port.pause();
    port.on('error', (err: Error) => this.reading?.controller.error(err));
    port.on('close', () => this.lost());
    this.port = port;
    this.bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    this.info = await lookUpUsbIds(this.path);
    // Opening a tty raises DTR and RTS (Linux, with HUPCL set by serialport).
    this.lines = { dtr: true, rts: true, brk: false };
    await this.options.tap?.send({ baud: options.baudRate });
    await this.options.tap?.send({ signals: { ...this.lines } });
  }

  get readable(): ReadableStream<Uint8Array> | null {
    if (!this.port) return null;
    if (!this.reading) this.reading = this.createReadable(this.port);
    return this.reading.stream;
  }

  get writable(): WritableStream<Uint8Array> | null {
    if (!this.port) return null;
    if (!this.writing) this.writing = this.createWritable(this.port);
    return this.writing;
  }

  private createReadable(port: NodeSerialPort): NonNullable<NodeWebSerialPort['reading']> {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          controller = c;
        },
        pull: () => {
          port.resume();
        },
        cancel: () => {
          port.pause();
          if (this.reading?.stream === stream) this.reading = null;
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: this.bufferSize }),
    );
    return { stream, controller };
  }

  private deliver(chunk: Buffer): void {
    const r = this.reading;
    if (!r) {
      this.port?.pause();
      return;
    }
    r.controller.enqueue(new Uint8Array(chunk));
    if ((r.controller.desiredSize ?? 0) <= 0) this.port?.pause();
  }

  private createWritable(port: NodeSerialPort): WritableStream<Uint8Array> {
    const stream = new WritableStream<Uint8Array>({
      // Resolves once the bytes have left the UART (tcdrain), so a later signal change or rate
      // change cannot overtake them.
      write: (chunk) => call((cb) => port.write(Buffer.from(chunk), (err) => (err ? cb(err) : port.drain(cb)))),
      close: () => {
        if (this.writing === stream) this.writing = null;
      },
      abort: () => {
        if (this.writing === stream) this.writing = null;
      },
    });
    return stream;
  }

  async setSignals(signals: SerialOutputSignals): Promise<void> {
    const port = this.requireOpen();
    const next: TapSignals = {
      dtr: signals.dataTerminalReady ?? this.lines.dtr,
      rts: signals.requestToSend ?? this.lines.rts,
      brk: signals.break ?? this.lines.brk,
    };
    if (this.modemLines) {
      try {
        await call((cb) => port.set({ dtr: next.dtr, rts: next.rts, brk: next.brk }, cb));
      } catch (e) {
        if (!isMissingModemLines(e as Error)) throw e;
        // No DTR/RTS here: a board behind it can still be put in download mode by hand (BOOT + EN).
        this.modemLines = false;
        if (!this.options.tap) this.options.onWarning?.(`${this.path} has no DTR/RTS lines; the chip cannot be reset from here`);
      }
    }
    this.lines = next;
    await this.options.tap?.send({ signals: { ...next } });
  }

  async getSignals(): Promise<SerialInputSignals> {
    const port = this.requireOpen();
    if (!this.modemLines) return { dataCarrierDetect: false, clearToSend: false, ringIndicator: false, dataSetReady: false };
    const s = await new Promise<{ cts: boolean; dsr: boolean; dcd: boolean }>((resolve, reject) =>
      port.get((err, status) => (err || !status ? reject(err ?? new Error('no modem status')) : resolve(status))),
    );
    return { dataCarrierDetect: s.dcd, clearToSend: s.cts, ringIndicator: false, dataSetReady: s.dsr };
  }

  /**
   * Changes the line rate in place. serialport's update() flushes the OS queues in both directions
   * (tcflush(TCIOFLUSH) in @serialport/bindings-cpp), so: wait until every written byte has left,
   * and keep the port flowing so that what has already arrived is in our buffer, not the OS's.
   * Bytes that arrive between that and the switch are lost, as on any UART changing rate mid-stream.
   */
  async setBaudRate(baudRate: number): Promise<void> {
    const port = this.requireOpen();
    await call((cb) => port.drain(cb));
    if (this.reading) port.resume();
    await new Promise((resolve) => setImmediate(resolve));
    await call((cb) => port.update({ baudRate }, cb));
    await this.options.tap?.send({ baud: baudRate });
  }

  async close(): Promise<void> {
    const port = this.requireOpen();
    if (this.reading?.stream.locked || this.writing?.locked) {
      throw new DOMException('Cannot close the port while its streams are locked.', 'InvalidStateError');
    }
    await this.reading?.stream.cancel();
    await this.writing?.abort();
    this.reading = null;
    this.writing = null;
    this.port = null;
    port.removeAllListeners('close');
    await call((cb) => port.close(cb));
    // Closing drops DTR and RTS (HUPCL).
    this.lines = { dtr: false, rts: false, brk: false };
    await this.options.tap?.send({ signals: { ...this.lines } });
  }

  async forget(): Promise<void> {
    if (this.port) await this.close();
  }

  private requireOpen(): NodeSerialPort {
    if (!this.port) throw new DOMException('The port is not open.', 'InvalidStateError');
    return this.port;
  }

  /** The device went away under us (unplugged): error the reader, as a browser does. */
  private lost(): void {
    if (!this.port) return;
    this.reading?.controller.error(new DOMException('The device has been lost.', 'NetworkError'));
    this.reading = null;
    this.writing = null;
    this.port = null;
    const ev = new Event('disconnect');
    this.ondisconnect?.(ev);
    this.dispatchEvent(ev);
  }
}
