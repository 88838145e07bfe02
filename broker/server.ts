// Assembles and runs one broker node, phase by phase (docs/architecture.md, How a node starts):
// the node's own services, MQTT, the job system and the features on it, then the listeners.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { unreachableFromPhone } from '../host-tools/cli/public-url';
import { INITIAL_ADMIN_FILE } from './bootstrap';
import { DEFAULTS, type BrokerOptions } from './config';
import type { Context } from './context';
import { startJobs } from './jobs/index';
import { createLogger } from './logger';
import { startMachines } from './machines/index';
import { startOta } from './ota/index';
import { Orders } from './orders/service';
import { publishOrderUpdates } from './orders/updates';
import { startPools } from './pools/pools';
import { withLateParts } from './start/late-parts';
import { listenAll } from './start/listeners';
import { startMqtt } from './start/mqtt';
import { openNodeServices } from './start/node-services';
import { drain } from './start/shutdown';
import { adminHasLoggedIn } from './store/audit';
import { listDevices } from './store/devices';
import { Deliverer } from './webhooks/deliverer';

export interface RunningBroker {
  mqttPort: number;
  httpPort: number;
  mqttsPort: number | null;
  mqttUrl: string;
  wsUrl: string;
  httpUrl: string;
  firstAdmin: { username: string; password: string; file: string } | null;
  /** Until the first admin login: the file holding the first-run admin credential, if it is still there. */
  initialAdminFile: string | null;
  /** Why a phone cannot open the public URL printed on labels, or null when it can. */
  publicUrlProblem: string | null;
  /** For the broker's own tests and benchmarks; nothing else may reach inside. */
  ctx: Context;
  close(): Promise<void>;
}

export async function startBroker(options: Partial<BrokerOptions> = {}): Promise<RunningBroker> {
  const opts: BrokerOptions = { ...DEFAULTS, ...options };
  const log = createLogger(opts.logLevel);
  const { core, registry, backends, boot, tls } = await openNodeServices(opts, log);
  const ctx = withLateParts(core);
  const mqtt = await startMqtt(ctx);

  const jobs = await startJobs(ctx);
  const machines = await startMachines(ctx);
  ctx.orders = new Orders(ctx);
  const stopOrderUpdates = publishOrderUpdates(ctx, ctx.orders);
  const ota = startOta(ctx);
  const pools = await startPools(ctx);
  const deliverer = new Deliverer(ctx, registry.dialect, opts.webhooks);
  await deliverer.start();

  const devices = await listDevices(registry.db);
  await ctx.presence.afterRestart(
    devices.filter((d) => d.last_seen !== null).map((d) => d.id),
    devices.filter((d) => d.last_seen === null).map((d) => d.id),
  );

  const listeners = await listenAll(ctx, mqtt.aedes, mqtt.guard, tls, Date.now());
  const { mqttPort, mqttsPort, httpPort } = listeners;
  const scheme = listeners.tlsServer ? 'https' : 'http';
  const local = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  // Devices fetch designs from the public URL when one was given, else from where this node listens.
  ctx.blobBaseUrl = (options.publicUrl ?? `${scheme}://${local}:${httpPort}`).replace(/\/+$/, '');

  log.info({ mqttPort, httpPort, mqttsPort, dataDir: opts.dataDir, devices: devices.length }, 'listening');
  const publicUrlProblem = unreachableFromPhone(opts.publicUrl);
  if (publicUrlProblem)
    log.warn(
      { publicUrl: opts.publicUrl },
      `labels and claim links point at ${opts.publicUrl}, which a phone cannot open (${publicUrlProblem}); set --public-url`,
    );
  const adminFile = join(opts.dataDir, INITIAL_ADMIN_FILE);
  const initialAdminFile = !(await adminHasLoggedIn(registry.db)) && existsSync(adminFile) ? adminFile : null;

  const parts = { mqtt, listeners, features: { jobs, machines, ota, pools, deliverer, stopOrderUpdates }, closeRegistry: () => backends.close() };
  let closed: Promise<void> | null = null;
  return {
    mqttPort,
    httpPort,
    mqttsPort,
    mqttUrl: `mqtt://${local}:${mqttPort}`,
    wsUrl: `${scheme === 'https' ? 'wss' : 'ws'}://${local}:${httpPort}/mqtt`,
    httpUrl: `${scheme}://${local}:${httpPort}`,
    firstAdmin: boot.firstAdmin,
    initialAdminFile,
    publicUrlProblem,
    ctx,
    close: () => (closed ??= drain(ctx, parts)),
  };
}
