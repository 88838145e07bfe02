// Job data export: device data (evt/<stream>) that arrives while a job runs is stored with the
// job; the owning agent exports the job's history and data as CSV and JSON, an admin can too, and
// any other agent is told there is no such job.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestBroker, api } from '../helpers/broker';
import { type Agent, type Watch, boundDevice, jobIn, submitOk, uniq } from '../helpers/jobs';
import { end } from '../helpers/mqtt';
import { waitUntil } from '../helpers/wait';

let tb: TestBroker;
let w: Watch;
let stranger: Agent;
let job: string;

/** Splits RFC 4180 CSV (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  return rows;
}

const s = suite('jobs: data and export');
s.before(async () => {
  tb = await TestBroker.start({ jobAckTimeoutMs: 200 });
  w = await boundDevice(tb, { mode: 'hold' });
  stranger = await tb.agent(uniq('ag'));
  await w.device.evt('telemetry', { t: 'before the job' });
  job = await submitOk(w.agent, { device: w.device.id, kind: 'serial.send', params: { data: 'UkVBRA==', timeoutMs: 1000 } });
  await waitUntil(() => w.device.isRunning(job), 5000, 'the job running');
  await jobIn(tb, job, ['running']);
  await w.device.evt('telemetry', { t: 21.5, unit: 'C' });
  await w.device.evt('raw', 'line one, "quoted"\nline two');
  await w.device.evt('raw', Buffer.from([0xff, 0x00, 0x80]));
  await w.device.ack({ job, state: 'done', result: { reply: 'T0s=' } });
  await jobIn(tb, job, ['done']);
  await w.device.evt('telemetry', { t: 'after the job' });
  // Its ack follows that evt on the same connection, so once this job is done the broker has
  // handled the evt (and stored it nowhere: no job was running).
  w.device.mode = 'run';
  const later = await submitOk(w.agent, { device: w.device.id, kind: 'identify', params: { seconds: 1 } });
  await jobIn(tb, later, ['done']);
});
s.after(async () => {
  await w.device.close();
  await end(w.agent.client, stranger.client);
  await tb.stop();
});

s('the owner exports JSON: the job, its state history and the data recorded while it ran', async () => {
  const r = await tb.api('GET', `/api/jobs/${job}/export?format=json`, undefined, w.agent.token);
  assert.is(r.status, 200);
  assert.is(r.body.job.job, job);
  assert.is(r.body.job.state, 'done');
  assert.equal(r.body.job.result, { reply: 'T0s=' });
  assert.equal(
    r.body.history.map((h: any) => h.event),
    ['queued', 'dispatched', 'running', 'done'],
  );
  assert.equal(
    r.body.data.map((d: any) => [d.stream, d.encoding, d.payload]),
    [
      ['telemetry', 'utf8', JSON.stringify({ t: 21.5, unit: 'C' })],
      ['raw', 'utf8', 'line one, "quoted"\nline two'],
      ['raw', 'base64', Buffer.from([0xff, 0x00, 0x80]).toString('base64')],
    ],
    'only what arrived while the job ran, in order, bytes that are not UTF-8 as base64',
  );
});

s('the owner exports CSV with the same content', async () => {
  const r = await tb.api('GET', `/api/jobs/${job}/export?format=csv`, undefined, w.agent.token);
  assert.is(r.status, 200);
  const rows = parseCsv(r.body as string);
  assert.equal(rows[0], ['record', 'at', 'time', 'name', 'encoding', 'value']);
  assert.equal(
    rows.filter((x) => x[0] === 'event').map((x) => x[3]),
    ['queued', 'dispatched', 'running', 'done'],
  );
  assert.equal(
    rows.filter((x) => x[0] === 'data').map((x) => [x[3], x[4], x[5]]),
    [
      ['telemetry', 'utf8', JSON.stringify({ t: 21.5, unit: 'C' })],
      ['raw', 'utf8', 'line one, "quoted"\nline two'],
      ['raw', 'base64', Buffer.from([0xff, 0x00, 0x80]).toString('base64')],
    ],
  );
  const jobRow = rows.find((x) => x[0] === 'job')!;
  assert.is(JSON.parse(jobRow[5]!).job, job);
  for (const x of rows.slice(1)) assert.is(new Date(Number(x[1])).toISOString(), x[2]);
});

s('another agent gets 404 for the job and its export; an admin can export', async () => {
  for (const path of [`/api/jobs/${job}`, `/api/jobs/${job}/export?format=csv`, `/api/jobs/${job}/export?format=json`]) {
    const r = await tb.api('GET', path, undefined, stranger.token);
    assert.is(r.status, 404, path);
    assert.is(r.body.error.code, 'NOT_FOUND');
  }
  const listed = await tb.api('GET', `/api/jobs?device=${w.device.id}`, undefined, stranger.token);
  assert.equal(listed.body, [], 'another agent lists none of them');
  const admin = await tb.api('GET', `/api/jobs/${job}/export?format=csv`);
  assert.is(admin.status, 200);
  assert.ok((admin.body as string).includes('telemetry'));
  const bad = await tb.api('GET', `/api/jobs/${job}/export?format=xml`, undefined, w.agent.token);
  assert.is(bad.status, 400);
  assert.is(bad.body.error.field, 'format');
  assert.is((await api(tb.broker.httpUrl, 'GET', `/api/jobs/${job}/export`)).status, 401, 'no token, no export');
});

s.run();
