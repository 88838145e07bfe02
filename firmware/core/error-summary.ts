// One short line for a caught error, for logs and acks; protocol errors keep their code.
import { isProtocolError } from '../../protocol/errors';

export const MAX_ERROR_CHARS = 200;

export function errorSummary(e: unknown): string {
  const text = isProtocolError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return text.slice(0, MAX_ERROR_CHARS);
}
