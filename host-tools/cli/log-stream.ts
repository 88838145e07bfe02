// Where a program's pino logs go and how they look: one line of text a record (time, level,
// message, fields) when the stream is a terminal a person reads, JSON lines otherwise (files,
// pipes, journald, log shippers). FLEETBIND_LOG_FORMAT=json|pretty overrides the guess.
import { isatty } from 'node:tty';
import { type DestinationStream, pino } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';

export function logFormat(fd: 1 | 2, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const asked = env.FLEETBIND_LOG_FORMAT?.trim().toLowerCase();
  if (asked === 'json' || asked === 'pretty') return asked;
  return isatty(fd) ? 'pretty' : 'json';
}

/**
 * A stream to fd 1 or 2. The tools write synchronously, so the last lines before an exit are never
 * lost; the broker asynchronously (pino's default), so a busy broker never waits on its log.
 */
export function logStream(fd: 1 | 2, opts: { sync: boolean }, env: NodeJS.ProcessEnv = process.env): DestinationStream {
  if (logFormat(fd, env) === 'json') return pino.destination({ fd, sync: opts.sync });
  return pretty({ destination: fd, sync: opts.sync, colorize: isatty(fd), translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,svc', singleLine: true });
}
