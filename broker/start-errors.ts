// Why the broker could not start, as one line a person can act on: the port or file, the likely
// cause, and the flag that changes it. main.ts prints it and exits 1, without a stack trace.
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export class StartError extends Error {
  override name = 'StartError';
}

const code = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? '';

/** A failed listen: what listens there, on which port, and the flag that moves it. */
export function listenError(what: string, flag: string, host: string, port: number, err: unknown): Error {
  switch (code(err)) {
    case 'EADDRINUSE':
      return new StartError(
        `the ${what} port ${port} on ${host} is already in use${what === 'MQTT' ? ', probably by Mosquitto or another broker' : ' by another program'} (ss -ltnp 'sport = :${port}' shows which); stop it or choose another port with ${flag}`,
      );
    case 'EACCES':
      return new StartError(
        `not allowed to listen on ${what} port ${port}: ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port above 1023 with ${flag}`,
      );
    case 'EADDRNOTAVAIL':
      return new StartError(`cannot listen on ${host}: it is not an address of this machine; choose another with --host (0.0.0.0 is every interface)`);
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}

/** The data directory exists (or is created) and the broker may write there. */
export function checkDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const why =
      code(err) === 'ENOTDIR'
        ? 'part of the path is a file'
        : code(err) === 'EROFS'
          ? 'it is on a read-only file system'
          : `${code(err) || (err as Error).message}: no permission to write there`;
    throw new StartError(`cannot write the data directory ${dir} (${why}); fix its owner or permissions, or choose another with --data-dir`);
  }
}

/** Reads the TLS certificate and key and checks they form a pair, before anything listens. */
export function readTlsFiles(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const read = (file: string, what: string, flag: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      const why =
        code(err) === 'ENOENT'
          ? 'no such file'
          : code(err) === 'EACCES'
            ? "permission denied: the broker's user may not read it"
            : code(err) === 'EISDIR'
              ? 'it is a directory'
              : code(err) || (err as Error).message;
      throw new StartError(`cannot read the TLS ${what} ${file} (${why}); fix it or pass another with ${flag}`);
    }
  };
  const cert = read(certFile, 'certificate', '--tls-cert');
  const key = read(keyFile, 'key', '--tls-key');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new StartError(
      `the TLS certificate ${certFile} and key ${keyFile} are not a usable PEM pair (${(err as Error).message}); check --tls-cert and --tls-key`,
    );
  }
  return { cert, key };
}
