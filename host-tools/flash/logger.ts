// Structured logs (JSON lines on stdout) for machines; humans read the progress on stderr. Device
// secrets, Wi-Fi passphrases, enrollment and admin tokens are never handed to the logger; the
// redaction below is a second line of defence should one ever be.
import pino, { type Logger } from 'pino';

export const REDACTED_KEYS = ['secret', 'psk', 'token', 'adminToken', 'enrollToken', 'enroll'];

export function createFlashLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name: 'flash',
      level,
      redact: { paths: [...REDACTED_KEYS, ...REDACTED_KEYS.map((k) => `*.${k}`)], censor: '[redacted]' },
    },
    pino.destination({ fd: 1, sync: true }),
  );
}
