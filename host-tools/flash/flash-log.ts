// What the flashing steps log through: pino's logger from the CLI, a console-backed one in the
// browser. Secrets are never passed to it (see logger.ts).
export interface FlashLog {
  trace(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object, msg: string): void;
}
