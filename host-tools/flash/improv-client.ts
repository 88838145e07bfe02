/// <reference types="w3c-web-serial" />
// The host side of Improv Wi-Fi over serial (firmware/core/improv.ts has the device side): asks
// the firmware who it is, sends the network, and waits until it reports being on it. Used by
// `npm run flash -- improv` and after a flash with --improv, and by the web Flash page; the port is
// any W3C Web Serial port, opened here at the console rate.
import {
  decodeStrings,
  encodeImprov,
  encodeRpc,
  ImprovCommand,
  ImprovDecoder,
  ImprovError,
  ImprovState,
  ImprovType,
  type ImprovDeviceInfo,
  type ImprovPacket,
} from '../../firmware/core/improv';
import { CONSOLE_BAUD } from './device-console';
import { FlashError } from './errors';

export interface ImprovOptions {
  /** How long the whole exchange may take, including the device booting. */
  timeoutMs: number;
  /** How often to ask for the state until the firmware answers (it may still be booting). */
  pollMs?: number;
}

export interface ImprovOutcome {
  info: ImprovDeviceInfo;
}

const ERROR_TEXT: Record<number, string> = {
  [ImprovError.INVALID_RPC]: 'it did not understand the request',
  [ImprovError.UNKNOWN_RPC]: 'it does not know that request',
  [ImprovError.UNABLE_TO_CONNECT]: 'it could not join the network (wrong passphrase, or out of range)',
  [ImprovError.UNKNOWN]: 'it failed',
};

class Channel {
  private readonly decoder = new ImprovDecoder();
  private readonly queue: ImprovPacket[] = [];
  private wake: (() => void) | null = null;
  private closed = false;
  private readonly pumping: Promise<void>;

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly writer: WritableStreamDefaultWriter<Uint8Array>,
  ) {
    this.pumping = this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        for (const frame of this.decoder.push(value)) if (frame.kind === 'packet') this.queue.push(frame.packet);
        this.wake?.();
      }
    } finally {
      this.closed = true;
      this.wake?.();
    }
  }

  send(type: number, data: Uint8Array): Promise<void> {
    return this.writer.write(encodeImprov(type, data));
  }

  /** The next packet `want` accepts, or null at the deadline; packets it skips are dropped. */
  async next(want: (p: ImprovPacket) => boolean, deadline: number): Promise<ImprovPacket | null> {
    for (;;) {
      const at = this.queue.findIndex(want);
      if (at >= 0) return this.queue.splice(0, at + 1).pop()!;
      this.queue.length = 0;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.wake = null;
    }
  }

  async close(): Promise<void> {
    await this.reader.cancel();
    await this.pumping;
    this.reader.releaseLock();
    this.writer.releaseLock();
  }
}

const isState = (p: ImprovPacket): boolean => p.type === ImprovType.CURRENT_STATE;
const isResult =
  (command: number) =>
  (p: ImprovPacket): boolean =>
    p.type === ImprovType.RPC_RESULT && p.data[0] === command;
const isError = (p: ImprovPacket): boolean => p.type === ImprovType.ERROR_STATE && p.data[0] !== ImprovError.NONE;

export async function improvSetWifi(port: SerialPort, label: string, ssid: string, psk: string, options: ImprovOptions): Promise<ImprovOutcome> {
  await port.open({ baudRate: CONSOLE_BAUD });
  const channel = new Channel(port.readable!.getReader(), port.writable!.getWriter());
  const deadline = Date.now() + options.timeoutMs;
  const timeout = (what: string): FlashError =>
    new FlashError(
      'IMPROV_TIMEOUT',
      `no Improv answer from the device on ${label} ${what} within ${Math.round(options.timeoutMs / 1000)} s (is the fleetbind firmware running on it?)`,
    );
  try {
    // Ask until the firmware is up and answers.
    let state: ImprovPacket | null = null;
    while (state === null && Date.now() < deadline) {
      await channel.send(ImprovType.RPC, encodeRpc(ImprovCommand.CURRENT_STATE, []));
      state = await channel.next(isState, Math.min(deadline, Date.now() + (options.pollMs ?? 1000)));
    }
    if (state === null) throw timeout('to a state request');

    await channel.send(ImprovType.RPC, encodeRpc(ImprovCommand.DEVICE_INFO, []));
    const infoPacket = await channel.next(isResult(ImprovCommand.DEVICE_INFO), deadline);
    if (infoPacket === null) throw timeout('to a device-info request');
    const [firmware = '', version = '', chip = '', name = ''] = decodeStrings(infoPacket.data.subarray(2)) ?? [];

    await channel.send(ImprovType.RPC, encodeRpc(ImprovCommand.WIFI_SETTINGS, [ssid, psk]));
    for (;;) {
      const p = await channel.next(
        (q) => isError(q) || isResult(ImprovCommand.WIFI_SETTINGS)(q) || (isState(q) && q.data[0] === ImprovState.PROVISIONED),
        deadline,
      );
      if (p === null) throw timeout(`after sending the network ${JSON.stringify(ssid)}`);
      if (isError(p))
        throw new FlashError(
          'IMPROV_FAILED',
          `the device on ${label} did not take the network ${JSON.stringify(ssid)}: ${ERROR_TEXT[p.data[0]!] ?? `error 0x${p.data[0]!.toString(16)}`}`,
        );
      if (p.type === ImprovType.RPC_RESULT) return { info: { firmware, version, chip, name } };
    }
  } finally {
    await channel.close();
    await port.close();
  }
}
