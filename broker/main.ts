// `npm start`: one broker node from flags and FLEETBIND_* variables; stops cleanly on SIGINT/SIGTERM.
import { helpText, wantsHelp } from '../host-tools/cli/args';
import { BROKER_CLI, parseOptions } from './config';
import { startBroker } from './server';
import { restoreBackup } from './store/backup';
import { StartError } from './start-errors';
import { startupBanner } from './startup-banner';

let options;
try {
  if (wantsHelp(process.argv.slice(2))) {
    process.stdout.write(`${helpText(BROKER_CLI)}\n`);
    process.exit(0);
  }
  options = parseOptions(process.argv.slice(2), process.env);
} catch (err) {
  process.stderr.write(`fleetbind: ${(err as Error).message}\n`);
  process.exit(2);
}

let broker;
try {
  if (options.restore !== undefined) {
    await restoreBackup(options.restore, options.dataDir, options.databaseUrl);
    process.stderr.write(`fleetbind: restored ${options.restore}\n`);
  }
  broker = await startBroker(options);
} catch (err) {
  // A start mistake (port in use, unwritable data dir, unreadable TLS file) is one line; anything else keeps its stack.
  process.stderr.write(`fleetbind: ${err instanceof StartError ? err.message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
}
// The log stays JSON on stdout; this summary for the person at the terminal goes to stderr, and
// the first-run password in it never reaches the log.
if (!options.quiet) process.stderr.write(startupBanner(broker, options));

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    broker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`fleetbind: shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  });
}
