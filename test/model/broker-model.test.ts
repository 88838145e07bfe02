// The whole broker against a reference model (docs/architecture.md, Testing approach): random
// histories of claims, releases, transfers, submits, cancels, device acks, drops and reconnects,
// subscriptions with every filter shape and device publishes, with faults injected (connections
// cut or delayed at a TCP proxy, the broker SIGKILLed and restarted). After every step the real
// system is checked against the model (check.ts). A failure prints fast-check's seed, path and
// shrunk counter-example.
//
// `npm run test:model -- --runs N --seed S [--path P] [--steps K]` for long runs; in CI the
// default is 200 runs, one in twenty of them with restarts (each restart costs seconds).
import fc from 'fast-check';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { suite } from '../helpers/suite';
import { AGENTS, DEVICES, commandArbitrary } from './commands';
import { Model } from './model';
import { System, ownTopics } from './system';

const { values: args } = readCli(
  defineCli({
    command: 'npm run test:model --',
    usage: ['[--runs N] [--seed S] [--path P] [--steps K]'],
    summary: 'The model test of the whole broker: random histories with injected faults, checked after every step against a reference model.',
    options: {
      runs: { type: 'string', value: 'N', help: 'runs in all (default 200; one in twenty with SIGKILL restarts)' },
      seed: { type: 'string', value: 'S', help: 'the seed of the first property (the second uses S+1); printed on failure' },
      path: { type: 'string', value: 'P', help: "replay one failing run: fast-check's path from a failure report" },
      steps: { type: 'string', value: 'K', help: 'at most K steps a run (default 12)' },
    },
  }),
);
const runs = Number(args.runs ?? 200);
const seed = args.seed === undefined ? Date.now() % 2 ** 31 : Number(args.seed);
const steps = Number(args.steps ?? 12);
// Restarts take seconds each; a twentieth of the runs have them, the rest never.
const restartRuns = Math.max(1, Math.round(runs / 20));

let sys: System;
const totals = { runs: 0, steps: 0, faults: 0 };

async function property(numRuns: number, restartWeight: number, seedOffset: number): Promise<void> {
  const prop = fc.asyncProperty(fc.commands([commandArbitrary(restartWeight)], { maxCommands: steps, size: 'max' }), async (cmds) => {
    await sys.newRun(DEVICES);
    const model = new Model(DEVICES, AGENTS, (i) => ownTopics(sys.agents[i]!.id));
    let failed = true;
    try {
      await fc.asyncModelRun(() => ({ model, real: sys }), cmds);
      failed = false;
    } finally {
      totals.runs++;
      totals.steps += model.steps;
      totals.faults += model.faults;
      // After a failure the broker may be half way through a restart: leave it for the next
      // shrink attempt to find, rather than hide the failure behind a cleanup error.
      await sys.endRun().catch((err: unknown) => {
        if (!failed) throw err;
      });
    }
  });
  await fc.assert(prop, {
    numRuns,
    seed: seed + seedOffset,
    ...(typeof args.path === 'string' ? { path: args.path } : {}),
    verbose: 1,
    includeErrorInReport: true,
  });
}

const s = suite('broker model');
s.before(async () => {
  sys = await System.start(AGENTS);
});
s.after(async () => {
  await sys?.stop();
});

s(`${runs - restartRuns} runs with connection faults (seed ${seed})`, async () => {
  if (runs - restartRuns > 0) await property(runs - restartRuns, 0, 0);
});

s(`${restartRuns} runs with SIGKILL and restart too (seed ${seed + 1})`, async () => {
  await property(restartRuns, 20, 1);
  console.log(
    `\nmodel: ${totals.runs} runs (incl. shrinking), ${totals.steps} steps, ${totals.faults} faults (${sys.proxy.injected.drops} connections cut, ${sys.proxy.injected.delays} delays, ${sys.restarts} SIGKILL restarts), seed ${seed}`,
  );
});

s.run();
