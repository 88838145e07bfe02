// `npm run flash -- ...` and `npm run flash -- improv ...`: see options.ts for the flags and
// flash-run.ts for the steps. Progress, the summary and logs go to stderr; stdout carries only the
// result, as one JSON object when it is not a terminal; any failure is one line on stderr and a
// non-zero exit.
import { connectSignalTap, SERIAL_TAP_ENV, type SignalTap } from '../serial/signal-tap';
import { exitCodeFor, FlashError } from './errors';
import { runFlash, runImprov, type FlashSummary } from './flash-run';
import { createFlashLogger } from './logger';
import { FLASH_CLI, IMPROV_CLI, parseFlashOptions, parseImprovOptions } from './options';
import { helpText, wantsHelp } from '../cli/args';
import { Progress } from './progress';

/** How long --monitor waits for the firmware to get online; Wi-Fi plus broker usually take seconds. */
const MONITOR_TIMEOUT_MS = Number(process.env.FLEETBIND_MONITOR_TIMEOUT_MS ?? 60_000);

function printSummary(progress: Progress, s: FlashSummary): void {
  const rows: Array<[string, string]> = [];
  if (s.deviceId)
    rows.push(['device', s.dryRun ? `${s.deviceId} (not registered: dry run)` : s.provisioned ? s.deviceId : `${s.deviceId} (registers itself on first boot)`]);
  if (s.machineCode) rows.push(['machine', s.machineCode]);
  if (s.mac) rows.push(['MAC', s.mac.match(/../g)!.join(':')]);
  if (s.chip) rows.push(['chip', s.chip]);
  if (s.outDir) rows.push(['images', s.outDir]);
  if (s.registeredLine) rows.push(['console', s.registeredLine]);
  if (s.machineCode) rows.push(['label', `npm run labels -- --machines ${s.machineCode} --out labels${s.brokerApi ? ` --broker-api ${s.brokerApi}` : ''}`]);
  progress.step(s.dryRun ? 'Dry run complete: nothing was changed' : s.outDir ? 'Images written' : 'Done');
  for (const [k, v] of rows) progress.note(`${k.padEnd(8)} ${v}`);
  // A terminal has just shown these rows; a pipe or script gets them as one JSON object.
  if (!process.stdout.isTTY) process.stdout.write(`${JSON.stringify(s)}\n`);
}

async function main(): Promise<number> {
  const progress = new Progress(process.stderr);
  const log = createFlashLogger();
  let tap: SignalTap | undefined;
  let undo: (() => Promise<void>) | null = null;
  const onSigint = (): void => {
    progress.note('interrupted');
    void (undo ?? (() => Promise.resolve()))().finally(() => process.exit(exitCodeFor('INTERRUPTED')));
  };
  process.on('SIGINT', onSigint);
  const argv = process.argv.slice(2);
  const improv = argv[0] === 'improv';
  try {
    if (wantsHelp(argv)) {
      process.stdout.write(`${helpText(improv ? IMPROV_CLI : FLASH_CLI)}\n`);
      return 0;
    }
    if (improv) {
      const opts = parseImprovOptions(argv.slice(1));
      const tapPath = process.env[SERIAL_TAP_ENV];
      if (tapPath) tap = await connectSignalTap(tapPath);
      await runImprov(opts, { log, progress, ...(tap ? { tap } : {}) });
      progress.step('Done');
      return 0;
    }
    const opts = parseFlashOptions(argv);
    const tapPath = process.env[SERIAL_TAP_ENV];
    if (tapPath && opts.port) tap = await connectSignalTap(tapPath);
    const summary = await runFlash(opts, {
      log,
      progress,
      ...(tap ? { tap } : {}),
      monitorTimeoutMs: MONITOR_TIMEOUT_MS,
      onInterrupt: (fn) => {
        undo = fn;
        return () => {
          if (undo === fn) undo = null;
        };
      },
    });
    printSummary(progress, summary);
    return 0;
  } catch (e) {
    progress.done();
    if (e instanceof FlashError) {
      process.stderr.write(`flash: ${e.message}\n`);
      if (e.code === 'USAGE') process.stderr.write(`(${(improv ? IMPROV_CLI : FLASH_CLI).command} --help lists the options)\n`);
      log.error({ code: e.code }, e.message);
      return exitCodeFor(e.code);
    }
    process.stderr.write(`flash: unexpected failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    log.error({ err: e }, 'unexpected failure');
    return 1;
  } finally {
    tap?.close();
    process.off('SIGINT', onSigint);
  }
}

process.exitCode = await main();
