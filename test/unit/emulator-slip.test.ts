// The emulator's SLIP framing and packet codec, checked against the protocol document's own
// examples and against esptool-js's encoder (its Transport.slipWriter) as an independent writer.
import fc from 'fast-check';
import { ESPLoader, Transport } from 'esptool-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SlipDecoder, slipEncode } from '../emulator/slip';
import { dataChecksum, encodeCommand, parseCommand, parseResponse } from '../emulator/protocol';

const slip = suite('emulator: SLIP framing');

const frames = (d: SlipDecoder, bytes: Uint8Array): Uint8Array[] => d.push(bytes).flatMap((e) => (e.kind === 'frame' ? [e.payload] : []));

slip('escapes 0xC0 and 0xDB as the protocol document says', () => {
  assert.equal([...slipEncode(Uint8Array.from([0x01, 0xc0, 0x02, 0xdb, 0x03]))], [0xc0, 0x01, 0xdb, 0xdc, 0x02, 0xdb, 0xdd, 0x03, 0xc0]);
});

slip('decodes the READ_REG reply from the esptool trace example', () => {
  const wire = Buffer.from('c0010a0200090000000000c0', 'hex');
  const [frame] = frames(new SlipDecoder(), wire);
  const r = parseResponse(frame!);
  assert.equal(r?.op, 0x0a);
  assert.equal(r?.value, 9);
  assert.equal([...r!.body], [0, 0]);
});

slip('round-trips any payload split anywhere, matching esptool-js encoding byte for byte', () => {
  const writer = new Transport({} as SerialPort);
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 5 }), fc.nat(), (payloads, cut) => {
      const wire = Buffer.concat(payloads.map((p) => slipEncode(p)));
      assert.equal(
        [...wire],
        payloads.flatMap((p) => [...writer.slipWriter(p)]),
      );
      const d = new SlipDecoder();
      const at = cut % (wire.length + 1);
      const got = [...frames(d, wire.subarray(0, at)), ...frames(d, wire.subarray(at))];
      assert.equal(
        got.map((g) => [...g]),
        payloads.map((p) => [...p]),
      );
    }),
  );
});

slip('ignores noise between frames and reports how much', () => {
  const d = new SlipDecoder();
  const events = d.push(Buffer.concat([Buffer.from('boot banner\r\n'), slipEncode(Uint8Array.of(1, 2))]));
  assert.equal(events[0], { kind: 'noise', bytes: 13 });
  assert.equal(events.filter((e) => e.kind === 'frame').length, 1);
});

slip('drops a frame with an invalid escape and recovers on the next one', () => {
  const d = new SlipDecoder();
  const events = d.push(Uint8Array.from([0xc0, 0x01, 0xdb, 0x99, 0x02, 0xc0, ...slipEncode(Uint8Array.of(7))]));
  assert.equal(events.filter((e) => e.kind === 'bad-escape').length, 1);
  assert.equal(
    events.filter((e) => e.kind === 'frame').map((e) => (e.kind === 'frame' ? [...e.payload] : [])),
    [[7]],
  );
});

slip('back-to-back delimiters are not an empty frame', () => {
  assert.equal(
    frames(new SlipDecoder(), Uint8Array.from([0xc0, 0xc0, 0x05, 0xc0])).map((f) => [...f]),
    [[5]],
  );
});

slip.run();

const packets = suite('emulator: packets and checksums');

packets('the data checksum starts at 0xEF and XORs every byte', () => {
  assert.is(dataChecksum(new Uint8Array(0)), 0xef);
  assert.is(dataChecksum(Uint8Array.of(0xef)), 0x00);
  assert.is(dataChecksum(Uint8Array.of(0x01, 0x02, 0x04)), 0xef ^ 0x07);
});

packets('matches the checksum esptool-js sends, for any block', () => {
  const silent = { clean() {}, write() {}, writeLine() {} };
  const loader = new ESPLoader({ transport: new Transport({ getInfo: () => ({}) } as unknown as SerialPort), baudrate: 115200, terminal: silent });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (d) => dataChecksum(d) === loader.checksum(d)));
});

packets('a command packet carries op, size and checksum little-endian', () => {
  const pkt = encodeCommand(0x03, Uint8Array.of(9, 8, 7), 0x1234);
  assert.equal([...pkt.subarray(0, 8)], [0x00, 0x03, 0x03, 0x00, 0x34, 0x12, 0x00, 0x00]);
  const parsed = parseCommand(pkt)!;
  assert.equal({ op: parsed.op, size: parsed.size, checksum: parsed.checksum, data: [...parsed.data] }, { op: 3, size: 3, checksum: 0x1234, data: [9, 8, 7] });
  assert.is(parseCommand(Uint8Array.of(0x01, 0x03, 0, 0, 0, 0, 0, 0)), null, 'a response is not a command');
});

packets.run();
