// Platform log on the serial console: one line per entry, "level msg key=value ...".
// Fields come from the core, which never puts a secret in them.
import type { LogFields, LogLevel } from '../core/platform';

export function formatLog(level: LogLevel, msg: string, fields?: LogFields): string {
  let line = `${level} ${msg}`;
  if (fields) {
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (value !== undefined) line += ` ${key}=${typeof value === 'string' ? JSON.stringify(value) : String(value)}`;
    }
  }
  return line + '\n';
}

export function log(level: LogLevel, msg: string, fields?: LogFields): void {
  trace(formatLog(level, msg, fields));
}
