// The REST routes the admin console adds: an admin cancels any agent's job (audited as
// job.cancel) while another agent cannot; the audit log filtered by action and followed with an
// `after` cursor; one device's signed claim label as PNG, PDF and SVG.
import * as assert from 'uvu/assert';
import { ErrorCode } from '../../protocol/errors';
import { expectRestError } from '../helpers/errors';
import { type Watch, identify, jobIn, jobSuite, submitOk } from '../helpers/jobs';
import { decodeOne, readPng } from '../helpers/qr-images';
import { waitUntil } from '../helpers/wait';

const { s, env } = jobSuite('admin console REST: job cancel, audit filters and cursor, label files', { jobAckTimeoutMs: 200 });

s('an admin cancels a queued and a running job of any agent, audited; another agent is told NOT_FOUND', async () => {
  const w: Watch = await env.watch({ mode: 'hold', durationMs: 10 });
  const running = await submitOk(w.agent, identify(w.device.id));
  const queued = await submitOk(w.agent, identify(w.device.id));
  await waitUntil(() => w.device.isRunning(running), 10_000, 'the first job on the device');

  const other = await env.agent();
  expectRestError(await env.tb.api('POST', `/api/jobs/${queued}/cancel`, undefined, other.token), 404, ErrorCode.NOT_FOUND);
  assert.is((await jobIn(env.tb, queued, ['queued'])).state, 'queued', "another agent's refused cancel changed nothing");

  const q = await env.tb.api('POST', `/api/jobs/${queued}/cancel`);
  assert.is(q.status, 200, JSON.stringify(q.body));
  assert.is(q.body.state, 'cancelled');
  const r = await env.tb.api('POST', `/api/jobs/${running}/cancel`);
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.is(r.body.pending, 'cancel');
  await waitUntil(() => w.device.cmds.some((c) => c.job === running && c.cancel === true), 10_000, 'the cancel cmd on the device');
  w.device.mode = 'run';
  assert.is((await jobIn(env.tb, running, ['cancelled'])).state, 'cancelled');
  expectRestError(await env.tb.api('POST', '/api/jobs/no-such-job/cancel'), 404, ErrorCode.NOT_FOUND);

  const rows = (await env.tb.api('GET', `/api/audit?action=job.cancel&device=${w.device.id}`)).body as any[];
  assert.equal(rows.map((a) => a.detail.job).sort(), [queued, running].sort());
  assert.ok(
    rows.every((a) => a.actor === 'admin:token' && a.agent === w.agent.id && a.action === 'job.cancel'),
    JSON.stringify(rows),
  );
});

s('the audit log after a cursor comes oldest first and holds only later rows; bad filters are refused', async () => {
  const before = (await env.tb.api('GET', '/api/audit?limit=1')).body as any[];
  const cursor = before[0]?.seq ?? 0;
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await env.tb.provision()).id);
  const page1 = (await env.tb.api('GET', `/api/audit?after=${cursor}&limit=2`)).body as any[];
  assert.is(page1.length, 2);
  assert.ok(page1[0].seq < page1[1].seq && page1[0].seq > cursor, JSON.stringify(page1));
  const page2 = (await env.tb.api('GET', `/api/audit?after=${page1[1].seq}`)).body as any[];
  const registered = [...page1, ...page2].filter((a) => a.action === 'device.registered').map((a) => a.device);
  assert.equal(registered, ids, 'every new row once, in order, across two pages');
  assert.equal((await env.tb.api('GET', `/api/audit?after=${page2.at(-1)?.seq ?? page1[1].seq}`)).body, []);
  const newest = (await env.tb.api('GET', '/api/audit?action=device.registered&limit=3')).body as any[];
  assert.equal(
    newest.map((a) => a.device),
    [...ids].reverse(),
    'without a cursor: newest first, only that action',
  );
  expectRestError(await env.tb.api('GET', '/api/audit?action=DROP%20TABLE'), 400, ErrorCode.BAD_REQUEST, 'action');
  expectRestError(await env.tb.api('GET', '/api/audit?after=-1'), 400, ErrorCode.BAD_REQUEST, 'after');
  expectRestError(await env.tb.api('GET', '/api/audit?after='), 400, ErrorCode.BAD_REQUEST, 'after');
});

s("a device's label downloads as PNG (its QR is the signed URL), PDF and SVG; admins only; no machine code, no label", async () => {
  const dev = await env.tb.provision(undefined, 'LBL-42');
  const label = (await env.tb.api('GET', '/api/labels/LBL-42')).body as { url: string };
  const get = (q: string, token = env.tb.adminToken) =>
    fetch(`${env.tb.broker.httpUrl}/api/devices/${dev.id}/label${q}`, { headers: { authorization: `Bearer ${token}` } });

  const png = await get('');
  assert.is(png.status, 200);
  assert.is(png.headers.get('content-type'), 'image/png');
  assert.match(png.headers.get('content-disposition') ?? '', /filename="LBL-42\.png"/);
  assert.is(decodeOne(readPng(Buffer.from(await png.arrayBuffer()))), label.url);

  const pdf = await get('?format=pdf');
  assert.is(pdf.headers.get('content-type'), 'application/pdf');
  assert.is(
    Buffer.from(await pdf.arrayBuffer())
      .subarray(0, 5)
      .toString('latin1'),
    '%PDF-',
  );
  const svg = await get('?format=svg');
  assert.match(svg.headers.get('content-type') ?? '', /^image\/svg\+xml/);
  const svgText = await svg.text();
  assert.ok(svgText.includes('LBL-42') && svgText.includes(label.url.replace(/^https?:\/\//, '')), svgText.slice(0, 300));

  expectRestError(await env.tb.api('GET', `/api/devices/${dev.id}/label?format=gif`), 400, ErrorCode.BAD_REQUEST, 'format');
  const plain = await env.tb.provision();
  expectRestError(await env.tb.api('GET', `/api/devices/${plain.id}/label`), 409, ErrorCode.CONFLICT);
  expectRestError(await env.tb.api('GET', '/api/devices/nobody-here/label'), 404, ErrorCode.NOT_FOUND);
  const agent = await env.agent();
  assert.is((await get('', agent.token)).status, 403);
});

s.run();
