// The partition-table reader and builder, against an independent writer: the to_binary() of
// ESP-IDF's gen_esp32part.py (struct '<2sBBLL16sL', MD5 entry, 0xFF to 0xC00), run in Python.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { bootApp, buildPartitionTable, parsePartitionTable, PartitionType, AppSubtype, type Partition } from '../../host-tools/flash/partition-table';
import { requireTool } from '../helpers/tools';
import { FAKE_PARTITIONS } from './fake-build';

const GEN_ESP32PART_TO_BINARY = `
import hashlib, json, struct, sys
parts = json.load(sys.stdin)
result = b''.join(struct.pack('<2sBBLL16sL', b'\\xaa\\x50', p['type'], p['subtype'], p['offset'], p['size'], p['label'].encode(), p['flags']) for p in parts)
result += b'\\xeb\\xeb' + b'\\xff' * 14 + hashlib.md5(result).digest()
result += b'\\xff' * (0xC00 - len(result))
sys.stdout.buffer.write(result)
`;

const test = suite('flash: partition tables');

test("builds byte-for-byte what gen_esp32part.py's to_binary() builds", () => {
  requireTool('python3', 'python3');
  const parts: Partition[] = [...FAKE_PARTITIONS, { label: 'storage', type: 0x01, subtype: 0x82, offset: 0x350000, size: 0x20000, flags: 1 }];
  const py = spawnSync('python3', ['-c', GEN_ESP32PART_TO_BINARY], { input: JSON.stringify(parts) });
  assert.is(py.status, 0, py.stderr.toString());
  assert.ok(Buffer.from(buildPartitionTable(parts)).equals(py.stdout));
  assert.equal(parsePartitionTable(new Uint8Array(py.stdout)), parts);
});

test('reads a table padded to a whole 4 KiB sector, as it sits in flash', () => {
  const sector = new Uint8Array(0x1000).fill(0xff);
  sector.set(buildPartitionTable(FAKE_PARTITIONS));
  assert.equal(parsePartitionTable(sector), FAKE_PARTITIONS);
});

test('refuses a table whose MD5 does not match its entries', () => {
  const bytes = buildPartitionTable(FAKE_PARTITIONS);
  bytes[4] ^= 0x10; // nvs offset
  assert.throws(() => parsePartitionTable(bytes), /MD5 does not match/);
});

test('refuses something that is not a partition table', () => {
  assert.throws(() => parsePartitionTable(new Uint8Array(randomBytes(0xc00))), /no AA 50 magic/);
  const noEnd = new Uint8Array(64);
  noEnd.set(buildPartitionTable(FAKE_PARTITIONS).subarray(0, 64));
  assert.throws(() => parsePartitionTable(noEnd), /no end marker/);
});

test('the boot app is the factory partition, else ota_0', () => {
  assert.is(bootApp(FAKE_PARTITIONS)?.label, 'factory');
  const ota: Partition[] = [
    { label: 'otadata', type: PartitionType.DATA, subtype: 0x00, offset: 0xd000, size: 0x2000, flags: 0 },
    { label: 'ota_0', type: PartitionType.APP, subtype: AppSubtype.OTA_0, offset: 0x10000, size: 0x100000, flags: 0 },
    { label: 'ota_1', type: PartitionType.APP, subtype: AppSubtype.OTA_0 + 1, offset: 0x110000, size: 0x100000, flags: 0 },
  ];
  assert.is(bootApp(ota)?.label, 'ota_0');
});

test.run();
