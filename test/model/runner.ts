// The whole broker against a reference model (docs/architecture.md, Testing approach): random
// histories of claims, releases, transfers, submits to owned devices and to a pool (leases and the
// pool queue), cancels, device acks, drops and reconnects, subscriptions with every filter shape
// and device publishes, with faults injected (connections
// cut or delayed at a TCP proxy, a broker SIGKILLed and restarted; in cluster mode also a node of
// two SIGKILLed while the other runs on, and PostgreSQL or Redis cut off from every node for a
// while). After every step the real system is checked against the model (check.ts). A failure
// prints fast-check's seed, path and shrunk counter-example.
//
// `npm run test:model -- [--cluster] --runs N --seed S [--steps K]` for long runs. Without --seed
// (as in CI) most runs draw from fixed seeds, so CI replays the same histories every time (the
// seeds once found a bug); the rest draw from a seed printed before they start, which keeps
// exploring. A failure prints the command that replays its shrunk counter-example (--seed --path
// --replay).
import fc from 'fast-check';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { suite } from '../helpers/suite';
import { type Backends, freshBackends, requireBackends } from '../helpers/backends';
import { FaultProxy } from '../helpers/fault-proxy';
import { AGENTS, DEVICES, type FaultWeights, POOL_CAPS, commandArbitrary } from './commands';
import { type Totals, TOTALS_MARK, describe, runJobs } from './jobs';
import { Model } from './model';
import { System, ownTopics } from './system';

const { values: args } = readCli(
  defineCli({
    command: 'npm run test:model --',
    usage: ['[--cluster] [--runs N] [--seed S] [--steps K] [--jobs J]', '[--cluster] --seed S --path P --replay R [--restarts W] [--outages W]'],
    summary: 'The model test of the whole broker: random histories with injected faults, checked after every step against a reference model.',
    options: {
      cluster: { type: 'boolean', help: 'two broker nodes on PostgreSQL and Redis, with node kills and backend outages too' },
      runs: { type: 'string', value: 'N', help: 'runs in all (default 200, one in twenty with SIGKILL restarts; with --cluster 12, all with every fault)' },
      seed: { type: 'string', value: 'S', help: 'the seed of the connection-fault runs (the restart runs use S+1); default: fixed seeds, plus a random one' },
      path: { type: 'string', value: 'P', help: "replay one failing run: fast-check's path from the failure report" },
      replay: { type: 'string', value: 'R', help: 'with --path: the replayPath from the failure report (which steps of the run ran)' },
      restarts: { type: 'string', value: 'W', help: 'with --path: the weight of SIGKILL restarts in the failing property (from the report)' },
      outages: { type: 'string', value: 'W', help: 'with --path and --cluster: the weight of each backend outage in the failing property (from the report)' },
      steps: { type: 'string', value: 'K', help: 'at most K steps a run (default 16)' },
      jobs: {
        type: 'string',
        value: 'J',
        help: 'J processes in parallel, each with its own broker and seeds (S, S+2, …), the runs split between them; one summary (jobs.ts)',
      },
      json: { type: 'boolean', help: 'after every run, a line of totals for --jobs to sum' },
    },
  }),
);
const steps = Number(args.steps ?? 16);
/** The seeds CI replays: 1084544156 found a lost resend after a reconnect (counterexamples.test.ts). */
const FIXED_SEED = 1084544156;
const RESTART_WEIGHT = 20;
/** In cluster mode every run may have each fault: about one a run of 16 steps. */
const CLUSTER_FAULTS: FaultWeights = { restart: 5, outage: 5, nodes: 2 };

interface Part {
  name: string;
  runs: number;
  seed: number;
  faults: FaultWeights;
  path?: string;
  replay?: string;
}

function plan(cluster: boolean): Part[] {
  const nodes = cluster ? 2 : 1;
  if (args.path !== undefined) {
    if (args.seed === undefined || args.replay === undefined) throw new Error('--path needs --seed and --replay (all three are in the failure report)');
    const faults = { restart: Number(args.restarts ?? 0), outage: Number(args.outages ?? 0), nodes };
    return [{ name: 'replay', runs: 1, seed: Number(args.seed), faults, path: args.path, replay: args.replay }];
  }
  const seed = args.seed === undefined ? undefined : Number(args.seed);
  if (cluster) {
    // Node kills and outages take seconds each: few runs, every one of them with every fault.
    const runs = Number(args.runs ?? 12);
    if (seed !== undefined) return [{ name: 'cluster faults', runs, seed, faults: CLUSTER_FAULTS }];
    const explore = Math.round(runs / 4);
    return [
      { name: 'cluster faults, fixed seed', runs: runs - explore, seed: FIXED_SEED, faults: CLUSTER_FAULTS },
      { name: 'cluster faults, random seed', runs: explore, seed: Date.now() % 2 ** 31, faults: CLUSTER_FAULTS },
    ];
  }
  const runs = Number(args.runs ?? 200);
  const none: FaultWeights = { restart: 0, outage: 0, nodes };
  const restarts: FaultWeights = { restart: RESTART_WEIGHT, outage: 0, nodes };
  // Restarts take seconds each; a twentieth of the runs have them, the rest never.
  const restartRuns = Math.max(1, Math.round(runs / 20));
  if (seed !== undefined) {
    return [
      { name: 'connection faults', runs: runs - restartRuns, seed, faults: none },
      { name: 'SIGKILL restarts too', runs: restartRuns, seed: seed + 1, faults: restarts },
    ];
  }
  const explore = Math.round(runs / 8);
  return [
    { name: 'connection faults, fixed seed', runs: runs - restartRuns - explore, seed: FIXED_SEED, faults: none },
    { name: 'SIGKILL restarts too, fixed seed', runs: restartRuns, seed: FIXED_SEED + 1, faults: restarts },
    { name: 'connection faults, random seed', runs: explore, seed: Date.now() % 2 ** 31, faults: none },
  ];
}

/** Long runs take hours: a line every so many runs shows they advance, and how fast. */
const PROGRESS_EVERY = 50;

/**
 * The model test as a uvu suite: one node on SQLite, or (`cluster`) two nodes on a fresh
 * PostgreSQL database and Redis prefix, each backend behind a fault proxy.
 */
export function modelSuite(cluster: boolean): void {
  const jobs = Number(args.jobs ?? 1);
  if (jobs > 1) {
    const passOn = [...(cluster ? ['--cluster'] : []), '--steps', String(steps)];
    void runJobs(jobs, Number(args.runs ?? (cluster ? 12 : 200)), Number(args.seed ?? Date.now() % 2 ** 31), passOn);
    return;
  }
  let sys: System;
  let backends: Backends | Error | undefined;
  const proxies: FaultProxy[] = [];
  const counted = { runs: 0, steps: 0, faults: 0 };
  const started = Date.now();
  const command = `npm run test:model --${cluster ? ' --cluster' : ''}`;

  function totals(): Totals {
    const proxied = sys.nodes.map((n) => n.proxy.injected);
    const injected = (k: 'drops' | 'delays'): number => proxied.reduce((n, p) => n + p[k], 0);
    return { ...counted, drops: injected('drops'), delays: injected('delays'), restarts: sys.restarts };
  }

  function progress(): void {
    if (args.json) console.log(`${TOTALS_MARK}${JSON.stringify(totals())}`);
    else if (counted.runs % PROGRESS_EVERY === 0) console.log(`model: ${describe(totals(), (Date.now() - started) / 1000)}`);
  }

  async function property(part: Part): Promise<void> {
    const cmds = fc.commands([commandArbitrary(part.faults)], {
      maxCommands: steps,
      size: 'max',
      ...(part.replay === undefined ? {} : { replayPath: part.replay }),
    });
    const prop = fc.asyncProperty(cmds, async (history) => {
      await sys.newRun(DEVICES, POOL_CAPS);
      const model = new Model(DEVICES, AGENTS, (i) => ownTopics(sys.agents[i]!.id), POOL_CAPS);
      let failed = true;
      try {
        await fc.asyncModelRun(() => ({ model, real: sys }), history);
        failed = false;
      } finally {
        counted.runs++;
        counted.steps += model.steps;
        counted.faults += model.faults;
        progress();
        // After a failure a broker may be half way through a restart: leave it for the next
        // shrink attempt to find, rather than hide the failure behind a cleanup error.
        await sys.endRun().catch((err: unknown) => {
          if (!failed) throw err;
        });
      }
    });
    const details = await fc.check(prop, {
      numRuns: part.runs,
      seed: part.seed,
      ...(part.path === undefined ? {} : { path: part.path }),
      verbose: 1,
      includeErrorInReport: true,
    });
    if (!details.failed) return;
    const report = fc.defaultReportMessage(details) ?? 'the property failed';
    const replay = /replayPath="([^"]+)"/.exec(report)?.[1];
    const weights = `--restarts ${part.faults.restart}${cluster ? ` --outages ${part.faults.outage}` : ''}`;
    const again =
      replay === undefined ? '' : `\nreplay it: ${command} --seed ${details.seed} --path ${details.counterexamplePath} --replay '${replay}' ${weights}`;
    const dead = sys.deadNodes();
    throw new Error(`${report}${again}${dead.length > 0 ? `\n${dead.join('\n')}` : ''}`);
  }

  const s = suite(cluster ? 'cluster model' : 'broker model');
  s.before(async () => {
    // uvu reports a failed hook only as failed tests: say why here.
    const start = async (): Promise<System> => {
      if (!cluster) return System.start(AGENTS);
      backends = await freshBackends();
      if (backends instanceof Error) return undefined as never;
      const { port: pgPort } = new URL(backends.databaseUrl);
      const postgres = await FaultProxy.start(Number(pgPort || 5432));
      proxies.push(postgres);
      const redis = await FaultProxy.start(Number(new URL(backends.redisUrl).port || 6379));
      proxies.push(redis);
      return System.start(AGENTS, { backends, postgres, redis });
    };
    sys = await start().catch((err: unknown) => {
      console.error(`\nmodel: the system did not start: ${String(err)}`);
      throw err;
    });
  });
  s.after(async () => {
    if (sys) {
      const t = totals();
      await sys.stop();
      const outages = proxies.map((p) => p.injected.outages);
      console.log(`\nmodel: ${describe(t, (Date.now() - started) / 1000)}${cluster ? `; ${outages[0]} PostgreSQL and ${outages[1]} Redis outages` : ''}`);
    }
    for (const p of proxies) await p.close();
    if (backends && !(backends instanceof Error)) await backends.drop();
  });

  for (const part of plan(cluster)) {
    s(`${part.runs} runs: ${part.name} (seed ${part.seed}${part.path === undefined ? '' : `, path ${part.path}`})`, async () => {
      if (cluster) requireBackends(backends);
      console.log(`\nmodel: ${part.name}: ${part.runs} runs from seed ${part.seed}`);
      if (part.runs > 0) await property(part);
    });
  }

  s.run();
}

/** `--cluster` on the command line. */
export const clusterArg = args.cluster === true;
