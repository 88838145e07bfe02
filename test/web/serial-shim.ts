/// <reference types="w3c-web-serial" />
// navigator.serial for a test page, backed by serial-bridge.ts: requestPort() hands out one
// SerialPort whose open/close, readable/writable, setSignals and getInfo follow the Web Serial
// spec as Chromium implements it (streams exist only while open and are made afresh after a
// reader cancels; close() refuses while a stream is locked; `connected` means plugged in, not
// open). Bundled with esbuild and injected with addInitScript; the bridge URL and the USB ids it
// reports come from window.__serialShim.
interface ShimConfig {
  url: string;
  info: SerialPortInfo;
}

class BridgedSerialPort extends EventTarget {
  onconnect: ((ev: Event) => void) | null = null;
  ondisconnect: ((ev: Event) => void) | null = null;
  readonly connected = true;
  private ws: WebSocket | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private isOpen = false;
  private reading: { stream: ReadableStream<Uint8Array>; controller: ReadableStreamDefaultController<Uint8Array> } | null = null;
  private writing: WritableStream<Uint8Array> | null = null;
  /** Bytes that arrived while no readable stream existed, as the OS driver would hold them. */
  private held: Uint8Array[] = [];

  constructor(private readonly config: ShimConfig) {
    super();
  }

  getInfo(): SerialPortInfo {
    return { ...this.config.info };
  }

  private async socket(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return this.ws;
    const ws = new WebSocket(this.config.url);
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data === 'string') {
        const reply = JSON.parse(ev.data) as { id: number; ok: boolean; error?: string };
        const w = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        if (reply.ok) w?.resolve();
        else w?.reject(new DOMException(reply.error ?? 'serial bridge error', 'NetworkError'));
        return;
      }
      const bytes = new Uint8Array(ev.data as ArrayBuffer);
      if (this.reading) this.reading.controller.enqueue(bytes);
      else if (this.isOpen) this.held.push(bytes);
    };
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new DOMException('cannot reach the serial bridge', 'NetworkError'));
    });
    this.ws = ws;
    return ws;
  }

  private async call(message: Record<string, unknown> | Uint8Array): Promise<void> {
    const ws = await this.socket();
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    if (message instanceof Uint8Array) {
      const frame = new Uint8Array(4 + message.length);
      new DataView(frame.buffer).setUint32(0, id, true);
      frame.set(message, 4);
      ws.send(frame);
    } else {
      ws.send(JSON.stringify({ id, ...message }));
    }
    return done;
  }

  async open(options: SerialOptions): Promise<void> {
    if (this.isOpen) throw new DOMException('The port is already open.', 'InvalidStateError');
    await this.call({ op: 'open', baudRate: options.baudRate });
    this.isOpen = true;
    this.held = [];
  }

  get readable(): ReadableStream<Uint8Array> | null {
    if (!this.isOpen) return null;
    if (!this.reading) {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>({
        start: (c) => {
          controller = c;
        },
        cancel: () => {
          if (this.reading?.stream === stream) this.reading = null;
        },
      });
      this.reading = { stream, controller };
      for (const b of this.held.splice(0)) controller.enqueue(b);
    }
    return this.reading.stream;
  }

  get writable(): WritableStream<Uint8Array> | null {
    if (!this.isOpen) return null;
    if (!this.writing) {
      const stream = new WritableStream<Uint8Array>({
        write: (chunk) => this.call(new Uint8Array(chunk)),
        close: () => {
          if (this.writing === stream) this.writing = null;
        },
        abort: () => {
          if (this.writing === stream) this.writing = null;
        },
      });
      this.writing = stream;
    }
    return this.writing;
  }

  async setSignals(signals: SerialOutputSignals): Promise<void> {
    if (!this.isOpen) throw new DOMException('The port is closed.', 'InvalidStateError');
    await this.call({ op: 'signals', signals });
  }

  async getSignals(): Promise<SerialInputSignals> {
    if (!this.isOpen) throw new DOMException('The port is closed.', 'InvalidStateError');
    return { dataCarrierDetect: false, clearToSend: false, ringIndicator: false, dataSetReady: false };
  }

  async close(): Promise<void> {
    if (!this.isOpen) throw new DOMException('The port is already closed.', 'InvalidStateError');
    if (this.reading?.stream.locked || this.writing?.locked) throw new TypeError('Cannot close a port while its streams are locked.');
    this.reading?.controller.close();
    this.reading = null;
    this.writing = null;
    this.isOpen = false;
    this.held = [];
    await this.call({ op: 'close' });
  }

  async forget(): Promise<void> {}
}

const page = globalThis as unknown as { __serialShim: ShimConfig; Navigator: { prototype: object } };
const config = page.__serialShim;
const port = new BridgedSerialPort(config);
const serial = {
  requestPort: async () => port,
  getPorts: async () => [port],
  addEventListener: () => {},
  removeEventListener: () => {},
};
Object.defineProperty(page.Navigator.prototype, 'serial', { configurable: true, get: () => serial });
