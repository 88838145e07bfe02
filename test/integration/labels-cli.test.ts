// `npm run labels` against a live broker: every QR it prints (PDF sheets through pdftoppm, SVG
// through Chromium, PNG as is) decodes to the broker's signed URL, and an agent claims with it
// over MQTT. A label with one character of its code or signature changed is refused.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { TestBroker, connectAgent, request } from '../helpers/broker';
import { end } from '../helpers/mqtt';
import { runNpmScript } from '../helpers/npm-script';
import { closedPort } from '../helpers/ports';
import { decodeAll, decodeOne, pdfPages, rasteriseSvgs, readPng } from '../helpers/qr-images';
import { requireTool } from '../helpers/tools';

const FLEET = 'Harbour Fleet';
// 14 labels: a full first page of 12 and a second page of 2.
const CODES = Array.from({ length: 14 }, (_, i) => `CT07000${26 + i}`);

interface Ctx {
  broker: TestBroker;
  devices: Map<string, string>;
  tmp: string;
}

const t = suite<Ctx>('labels CLI');
t.before(async (ctx) => {
  ctx.broker = await TestBroker.start({ fleetName: FLEET, publicUrl: 'https://fleet.example.com' });
  const devices = await Promise.all(CODES.map((code) => ctx.broker.provision(undefined, code)));
  ctx.devices = new Map(CODES.map((code, i) => [code, devices[i]!.id]));
  await ctx.broker.provision(); // a device without a machine code gets no label
  ctx.tmp = mkdtempSync(join(tmpdir(), 'fleetbind-labels-'));
});
t.after(async (ctx) => {
  await ctx.broker.stop();
  rmSync(ctx.tmp, { recursive: true, force: true });
});

const labels = (
  ctx: Ctx,
  args: string[],
  env: Record<string, string | undefined> = { FLEETBIND_ADMIN_TOKEN: ctx.broker.adminToken },
  opts: { viaNpm?: boolean } = {},
) => runNpmScript('labels', [...args, '--broker-api', ctx.broker.broker.httpUrl], env, opts);

/** The code a decoded label URL names. */
const codeOf = (url: string): string => /\/c\/([A-Z0-9_-]+)\.[0-9a-f]{16}$/.exec(url)?.[1] ?? `not a label URL: ${url}`;

async function brokerUrls(broker: TestBroker): Promise<Map<string, string>> {
  const r = await broker.api('GET', '/api/labels');
  assert.is(r.status, 200);
  return new Map((r.body as Array<{ code: string; url: string }>).map((l) => [l.code, l.url]));
}

t('every QR on the PDF sheets, the SVGs and the PNGs decodes to the signed URL and claims its device', async (ctx) => {
  requireTool('pdftoppm', 'poppler-utils');
  requireTool('chromium', 'chromium');
  const out = join(ctx.tmp, 'machines');
  const run = await labels(ctx, ['--machines', CODES.map((c) => c.toLowerCase()).join(','), '--format', 'pdf,svg,png', '--out', out], undefined, {
    viaNpm: true,
  });
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, `14 labels for fleet ${FLEET}`);
  assert.match(run.stdout, '2 A4 pages');

  const expected = await brokerUrls(ctx.broker);
  const pages = await pdfPages(join(out, 'labels.pdf'));
  assert.is(pages.length, 2);
  const perPage = pages.map(decodeAll);
  assert.equal(
    perPage.map((p) => p.length),
    [12, 2],
  );
  const fromPdf = perPage.flat();
  assert.equal(fromPdf.map(codeOf).sort(), [...CODES].sort());
  for (const url of fromPdf) assert.is(url, expected.get(codeOf(url)), 'the QR holds the URL the broker signed');

  const svgs = CODES.map((c) => readFileSync(join(out, `${c}.svg`), 'utf8'));
  const svgUrls = (await rasteriseSvgs(svgs)).map(decodeOne);
  const pngUrls = CODES.map((c) => decodeOne(readPng(readFileSync(join(out, `${c}.png`)))));
  CODES.forEach((code, i) => {
    assert.is(svgUrls[i], expected.get(code), `${code}.svg`);
    assert.is(pngUrls[i], expected.get(code), `${code}.png`);
    assert.ok(svgs[i]!.includes(`>${code}</text>`) && svgs[i]!.includes(`>${FLEET}</text>`), `${code}.svg shows the code and the fleet`);
  });

  const agent = await ctx.broker.createAgent('labeller', { deviceLimit: 50 });
  const client = await connectAgent(ctx.broker.broker.mqttUrl, agent.id, await ctx.broker.login(agent.id, agent.password));
  try {
    for (const url of fromPdf) {
      const r = await request(client, { kind: 'agent', id: agent.id }, { op: 'claim', target: url });
      assert.ok(r.ok, `${url}: ${JSON.stringify(r)}`);
      assert.is(r.result.device.id, ctx.devices.get(codeOf(url)));
    }
  } finally {
    await end(client);
  }
  const bindings = await ctx.broker.api('GET', '/api/bindings');
  assert.equal((bindings.body as Array<{ agent: string }>).filter((b) => b.agent === agent.id).length, CODES.length);
});

t('--location prints a location label whose QR selects that pool for a member agent, and is no machine label', async (ctx) => {
  requireTool('pdftoppm', 'poppler-utils');
  const b = ctx.broker;
  assert.is((await b.api('POST', '/api/locations', { id: 'hall-1', name: 'Hall one' })).status, 201);
  const out = join(ctx.tmp, 'locations');
  const run = await labels(ctx, ['--location', 'HALL-1', '--format', 'pdf,png', '--out', out]);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, `1 label for fleet ${FLEET}`);
  const fromPdf = (await pdfPages(join(out, 'labels.pdf'))).flatMap(decodeAll);
  const fromPng = decodeOne(readPng(readFileSync(join(out, 'hall-1.png'))))!;
  assert.equal(fromPdf, [fromPng]);
  assert.match(fromPng, /^https:\/\/fleet\.example\.com\/p\/hall-1\.[0-9a-f]{16}$/);
  const agent = await b.createAgent('walker');
  const token = await b.login(agent.id, agent.password);
  assert.is((await b.api('PATCH', `/api/agents/${agent.id}`, { locations: ['hall-1'] })).status, 200);
  const resolved = await b.api('POST', '/api/locations/resolve-label', { label: fromPng }, token);
  assert.is(resolved.status, 200, JSON.stringify(resolved.body));
  assert.is(resolved.body.id, 'hall-1');
  const client = await connectAgent(b.broker.mqttUrl, agent.id, token);
  try {
    const claimed = await request(client, { kind: 'agent', id: agent.id }, { op: 'claim', target: fromPng });
    assert.is(claimed.ok, false, 'a location label claims nothing');
  } finally {
    await end(client);
  }
  const unknown = await labels(ctx, ['--location', 'no-such-hall', '--out', join(ctx.tmp, 'none')]);
  assert.is.not(unknown.code, 0);
  assert.match(unknown.stderr, /no location no-such-hall/);
});

t(
  '--orders prints walk-up order labels: each QR opens a customer session on its machine and claims nothing; a machine not taking orders is refused',
  async (ctx) => {
    requireTool('pdftoppm', 'poppler-utils');
    const b = ctx.broker;
    const open = CODES.slice(0, 2);
    for (const code of open) {
      const r = await b.api('POST', `/api/devices/${ctx.devices.get(code)}/order-settings`, { enabled: true });
      assert.is(r.status, 200, JSON.stringify(r.body));
    }
    const out = join(ctx.tmp, 'orders');
    const run = await labels(ctx, ['--from-registry', '--orders', '--format', 'pdf,png', '--out', out]);
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, `2 labels for fleet ${FLEET}`);
    const fromPdf = (await pdfPages(join(out, 'labels.pdf'))).flatMap(decodeAll).sort();
    const fromPng = open.map((code) => decodeOne(readPng(readFileSync(join(out, `${code}.png`))))!);
    assert.equal(fromPdf, [...fromPng].sort());
    const claims = await brokerUrls(b);
    const agent = await b.agent('order-label-claimer');
    try {
      for (const [i, url] of fromPng.entries()) {
        assert.match(url, new RegExp(`^https://fleet\\.example\\.com/o/${open[i]}\\.[0-9a-f]{16}$`));
        assert.is.not(url.split('/o/')[1]!.split('.')[1], claims.get(open[i]!)!.split('.').at(-1), 'signed apart from the claim label');
        const session = await b.api('POST', '/api/orders/sessions', { label: url }, undefined);
        assert.is(session.status, 201, JSON.stringify(session.body));
        const claimed = await request(agent.client, { kind: 'agent', id: agent.id }, { op: 'claim', target: url });
        assert.is(claimed.ok, false, `an order label claims nothing: ${JSON.stringify(claimed)}`);
      }
    } finally {
      await end(agent.client);
    }
    const closed = await labels(ctx, ['--machines', CODES[5]!, '--orders', '--out', join(ctx.tmp, 'closed')]);
    assert.is.not(closed.code, 0);
    assert.match(closed.stderr, `machine ${CODES[5]} does not take walk-up orders`);
    assert.not.ok(existsSync(join(ctx.tmp, 'closed')), 'nothing written');
    const withLocation = await labels(ctx, ['--location', 'hall-1', '--orders', '--out', join(ctx.tmp, 'bad')]);
    assert.is(withLocation.code, 2, withLocation.stderr);
    assert.match(withLocation.stderr, '--orders prints machine labels');
  },
);

t('a decoded label with one character of its code or signature changed is refused with UNKNOWN_MACHINE', async (ctx) => {
  const out = join(ctx.tmp, 'tamper');
  const run = await labels(ctx, ['--machines', 'CT0700026', '--format', 'png', '--out', out]);
  assert.is(run.code, 0, run.stderr);
  const url = decodeOne(readPng(readFileSync(join(out, 'CT0700026.png'))));
  assert.ok(url, 'the PNG holds a QR');
  const m = /^(.*\/c\/)([A-Z0-9_-]+)\.([0-9a-f]{16})$/.exec(url!)!;
  const flip = (s: string, i: number, a: string, b: string) => s.slice(0, i) + (s[i] === a ? b : a) + s.slice(i + 1);
  const tampered = [
    `${m[1]}${flip(m[2]!, 8, '6', '7')}.${m[3]}`, // CT0700027, a real machine, with CT0700026's signature
    `${m[1]}${m[2]}.${flip(m[3]!, 0, 'a', 'b')}`,
  ];
  const mallory = await ctx.broker.agent('mallory');
  try {
    for (const target of tampered) {
      const r = await request(mallory.client, { kind: 'agent', id: mallory.id }, { op: 'claim', target });
      assert.is(r.ok, false, target);
      assert.is(r.error.code, 'UNKNOWN_MACHINE', `${target}: ${JSON.stringify(r)}`);
    }
  } finally {
    await end(mallory.client);
  }
  const devices = await ctx.broker.api('GET', '/api/devices?agent=mallory');
  assert.equal(devices.body, [], 'a refused label binds nothing');
});

t('--from-registry prints every device that has a machine code, and only the formats asked for', async (ctx) => {
  const out = join(ctx.tmp, 'registry');
  const run = await labels(ctx, ['--from-registry', '--format', 'svg', '--out', out]);
  assert.is(run.code, 0, run.stderr);
  assert.equal(readdirSync(out).sort(), CODES.map((c) => `${c}.svg`).sort());
});

t('an unknown machine code, a bad token, an unreachable broker and a usage mistake each fail in one line', async (ctx) => {
  const out = join(ctx.tmp, 'errors');
  const unknown = await labels(ctx, ['--machines', 'CT0700026,CT0799999', '--out', out]);
  assert.is(unknown.code, 1);
  assert.equal(unknown.stderr.trim().split('\n'), [
    'labels: unknown machine code CT0799999 is not in the registry (no device serves it); provision with npm run flash -- --machine CODE',
  ]);
  assert.not.ok(existsSync(out), 'nothing is written when a code is unknown');

  const badToken = await labels(ctx, ['--from-registry', '--out', out, '--admin-token', 'not-the-token']);
  assert.is(badToken.code, 1);
  assert.match(badToken.stderr, /^labels: the broker refused the admin token \(UNAUTHORIZED: .+\)\n$/);

  const noToken = await labels(ctx, ['--from-registry', '--out', out], { FLEETBIND_ADMIN_TOKEN: undefined });
  assert.is(noToken.code, 2);
  assert.match(noToken.stderr, /^labels: no admin token: run npm run fleet -- login, pass --admin-token T or set \$FLEETBIND_ADMIN_TOKEN\n/);

  const port = await closedPort();
  const unreachable = await runNpmScript('labels', [
    '--from-registry',
    '--out',
    out,
    '--broker-api',
    `http://127.0.0.1:${port}`,
    '--admin-token',
    ctx.broker.adminToken,
  ]);
  assert.is(unreachable.code, 1);
  assert.is(unreachable.stderr, `labels: broker API at http://127.0.0.1:${port} is unreachable (ECONNREFUSED)\n`);

  const noSelection = await labels(ctx, ['--out', out]);
  assert.is(noSelection.code, 2);
  assert.match(
    noSelection.stderr,
    /^labels: say which labels to print: --machines CT0700026,CT0700027, --from-registry or --location hall-1\n\(npm run labels -- --help lists the options\)\n$/,
  );
  assert.not.ok(existsSync(out));
});

t('a broker whose public URL is localhost: labels are refused with how to set it, unless --allow-local', async (ctx) => {
  const local = await TestBroker.start({ publicUrl: 'http://localhost:8080' });
  try {
    await local.provision(undefined, 'LOC0001');
    const out = join(ctx.tmp, 'local');
    const env = { FLEETBIND_ADMIN_TOKEN: local.adminToken };
    const refused = await runNpmScript('labels', ['--machines', 'LOC0001', '--format', 'svg', '--out', out, '--broker-api', local.broker.httpUrl], env);
    assert.is(refused.code, 1);
    assert.match(
      refused.stderr,
      /^labels: the labels would point at http:\/\/localhost:8080, which a phone cannot open \(localhost is this machine's loopback address\)\. Restart the broker with --public-url set to an address phones reach, such as http:\/\/\S+:8080 \(or FLEETBIND_PUBLIC_URL\), or pass --allow-local to print them anyway\n$/,
    );
    assert.not.ok(existsSync(out), 'nothing is written when refused');
    const allowed = await runNpmScript(
      'labels',
      ['--machines', 'LOC0001', '--format', 'svg', '--out', out, '--allow-local', '--broker-api', local.broker.httpUrl],
      env,
    );
    assert.is(allowed.code, 0, allowed.stderr);
    const svg = readFileSync(join(out, 'LOC0001.svg'), 'utf8');
    assert.match(svg, />Scan to claim</);
    assert.match(svg, />localhost:8080\/c\/LOC0001\.[0-9a-f]{16}</);
  } finally {
    await local.stop();
  }
});

t.run();
