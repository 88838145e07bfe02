// Structured logs (pino). Anything that could carry a credential is redacted at the source.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.FLEETBIND_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { svc: 'fleetbind' },
    redact: {
      paths: ['password', 'secret', 'token', 'psk', '*.password', '*.secret', '*.token', '*.psk', 'req.headers.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}
