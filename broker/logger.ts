// Structured logs (pino) on stdout: JSON lines, or one readable line a record on a terminal
// (host-tools/cli/log-stream.ts). Anything that could carry a credential is redacted at the source.
import { pino, type Logger } from 'pino';
import { logStream } from '../host-tools/cli/log-stream';

export type { Logger };

export function createLogger(level = process.env.FLEETBIND_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      level,
      base: { svc: 'fleetbind' },
      redact: {
        paths: ['password', 'secret', 'token', 'psk', '*.password', '*.secret', '*.token', '*.psk', 'req.headers.authorization', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    logStream(1, { sync: false }),
  );
}
