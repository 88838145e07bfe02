// What the build says about the board, from the manifest's "config" (mc/config). Values given
// on the mcconfig command line (e.g. `fw=1.2.3 uartBaud=115200`) arrive as strings.
import config from 'mc/config';
import type { UartConfig } from './uart';

export interface Board {
  model: string;
  fw: string;
  /** GPIO of a status LED, or undefined when the board has none (or uses the pin otherwise). */
  led: number | undefined;
  uart: UartConfig | undefined;
  /** The console UART, on which the firmware answers Improv Wi-Fi (firmware/core/improv.ts); undefined for none. */
  improv: UartConfig | undefined;
  sntp: string;
  /** For targets whose network interface has no MAC to read (the desktop simulator): `mcconfig mac=...`. */
  mac: string | undefined;
  /** How often the machine on the UART is asked for its status (`machinePollMs`); 0 when it is not a printer that answers STATUS. */
  machinePollMs: number;
  /** How long a new image may take to reach the broker before it rolls back (`otaTrialMs`); undefined for the core's default. */
  otaTrialMs: number | undefined;
}

function integer(value: unknown, what: string): number | undefined {
  if (value === undefined || value === null || value === '' || value === 'none') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`manifest config ${what} must be a non-negative integer or "none", not ${String(value)}`);
  return n;
}

/** `uartDevice` (lin) or all of `uartPort`, `uartReceive`, `uartTransmit`; anything else is no UART. */
function readUart(): UartConfig | undefined {
  const baud = integer(config.uartBaud, 'uartBaud') ?? 9600;
  const device = config.uartDevice;
  if (typeof device === 'string' && device !== '' && device !== 'none') return { device, baud };
  const port = integer(config.uartPort, 'uartPort');
  const receive = integer(config.uartReceive, 'uartReceive');
  const transmit = integer(config.uartTransmit, 'uartTransmit');
  return port !== undefined && receive !== undefined && transmit !== undefined ? { port, receive, transmit, baud } : undefined;
}

/** `improvPort`, `improvReceive`, `improvTransmit`: UART0 at the console rate, shared with the log. */
function readImprov(): UartConfig | undefined {
  const port = integer(config.improvPort, 'improvPort');
  const receive = integer(config.improvReceive, 'improvReceive');
  const transmit = integer(config.improvTransmit, 'improvTransmit');
  return port !== undefined && receive !== undefined && transmit !== undefined ? { port, receive, transmit, baud: 115200 } : undefined;
}

export function readBoard(): Board {
  return {
    model: String(config.model ?? 'esp32'),
    fw: String(config.fw ?? 'dev'),
    led: integer(config.led, 'led'),
    uart: readUart(),
    improv: readImprov(),
    sntp: String(config.sntp ?? 'none'),
    mac: config.mac === undefined ? undefined : String(config.mac),
    machinePollMs: integer(config.machinePollMs, 'machinePollMs') ?? 0,
    otaTrialMs: integer(config.otaTrialMs, 'otaTrialMs'),
  };
}
