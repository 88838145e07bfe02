// The simulator's preferences in a state file: the device reads its values at once, the file
// catches up in one write per run of changes, a new device on the same file gets them back, and
// a write that failed is reported rather than lost.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FilePrefs } from '../../host-tools/simulate/sim-prefs';

const t = suite('simulated preferences in a file');
let dir = '';
t.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'fb-simprefs-'));
});
t.after.each(() => rmSync(dir, { recursive: true, force: true }));

const onDisk = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

t('changes are read back at once and reach the file, which a new device on it loads', async () => {
  const file = join(dir, 'devices', 'SIM-0001.json');
  const p = new FilePrefs(file, { broker: 'mqtt://a', enroll: 'tok' });
  p.set('id', 'esp32-0011223344aa');
  p.set('secret', 's3cret');
  p.remove('enroll');
  assert.is(p.get('secret'), 's3cret');
  assert.is(p.get('enroll'), undefined);
  await p.saved();
  assert.equal(onDisk(file), { broker: 'mqtt://a', id: 'esp32-0011223344aa', secret: 's3cret' });
  assert.is(statSync(file).mode & 0o777, 0o600, 'the state file holds a secret');
  // The file wins over the initial values, which only fill keys it lacks.
  const again = new FilePrefs(file, { broker: 'mqtt://b', enroll: 'tok', machine: 'SIM-0001' });
  assert.equal(again.snapshot(), { broker: 'mqtt://a', id: 'esp32-0011223344aa', secret: 's3cret', enroll: 'tok', machine: 'SIM-0001' });
  await again.saved();
  assert.equal(onDisk(file), again.snapshot());
});

t('a change made while the file is being written is in the file once saved resolves', async () => {
  const file = join(dir, 'SIM-0002.json');
  const p = new FilePrefs(file, { broker: 'mqtt://a' });
  // The first write is under way (it began in the constructor's turn); these come after its snapshot.
  await Promise.resolve();
  for (let i = 0; i < 50; i++) p.set('psk', `key-${i}`);
  await p.saved();
  assert.equal(onDisk(file), { broker: 'mqtt://a', psk: 'key-49' });
});

t('nothing is written for a device whose file already holds every value', async () => {
  const file = join(dir, 'SIM-0003.json');
  writeFileSync(file, JSON.stringify({ broker: 'mqtt://a' }));
  const before = statSync(file).mtimeMs;
  const p = new FilePrefs(file, { broker: 'mqtt://other' });
  p.set('broker', 'mqtt://a');
  await p.saved();
  assert.is(statSync(file).mtimeMs, before);
  assert.is(readFileSync(file, 'utf8'), JSON.stringify({ broker: 'mqtt://a' }));
});

t('a write that fails makes saved reject with the file and the cause', async () => {
  // A directory where the write's temporary file goes: the write fails.
  const file = join(dir, 'SIM-0004.json');
  mkdirSync(`${file}.tmp`);
  const p = new FilePrefs(file, { broker: 'mqtt://a' });
  p.set('id', 'esp32-0011223344bb');
  assert.is(p.get('id'), 'esp32-0011223344bb', 'the device keeps its values in memory');
  try {
    await p.saved();
    assert.unreachable('saved resolved although the file could not be written');
  } catch (err) {
    assert.instance(err, Error);
    assert.match((err as Error).message, /cannot save device state .*\/SIM-0004\.json: EISDIR/);
  }
});

t.run();
