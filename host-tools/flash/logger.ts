// Structured logs on stderr (JSON lines, or readable lines on a terminal: cli/log-stream.ts), next
// to the progress people read; stdout carries only the result (cli.ts). Device
// secrets, Wi-Fi passphrases, enrollment and admin tokens are never handed to the logger; the
// redaction below is a second line of defence should one ever be.
import pino, { type Logger } from 'pino';
import { logStream } from '../cli/log-stream';

export const REDACTED_KEYS = ['secret', 'psk', 'token', 'adminToken', 'enrollToken', 'enroll'];

export function createFlashLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name: 'flash',
      level,
      redact: { paths: [...REDACTED_KEYS, ...REDACTED_KEYS.map((k) => `*.${k}`)], censor: '[redacted]' },
    },
    logStream(2, { sync: true }),
  );
}
