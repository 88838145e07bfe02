// A SQLite registry for tests that use the store without a broker. A checkpoint that fails off
// the main thread is thrown, so the test run fails on it instead of moving on.
import { openSqlite, type Registry } from '../../broker/store/db';

export function openTestRegistry(file: string): Promise<Registry> {
  return openSqlite(file, (err) => {
    throw err;
  });
}
