// One Improv conversation with firmware/core/improv.ts, as plain data in and out, so the same
// run can be made on Node and inside XS (improv-entry.ts) and the transcripts compared. The
// device's network is "lab" with passphrase "lab-passphrase"; joining takes a turn of the script.
import { decodeStrings, encodeImprov, encodeRpc, ImprovCommand, ImprovDecoder, ImprovService, ImprovType } from '../../firmware/core/improv';

export interface ImprovTranscript {
  /** Each reply packet as [type, data bytes]. */
  steps: Array<{ sent: string; replies: Array<[number, number[]]> }>;
  joins: Array<[string, string]>;
  prefs: Record<string, string>;
  info: string[] | null;
}

export function runImprovScenario(): ImprovTranscript {
  const out: Uint8Array[] = [];
  const prefs: Record<string, string> = {};
  let online = false;
  let pending: (() => void) | null = null;
  const joins: Array<[string, string]> = [];
  const service = new ImprovService({
    send: (bytes) => out.push(bytes),
    join: (ssid, psk, done) => {
      joins.push([ssid, psk]);
      prefs.ssid = ssid;
      prefs.psk = psk;
      pending = () => {
        online = ssid === 'lab' && psk === 'lab-passphrase';
        done(online);
      };
    },
    online: () => online,
    info: () => ({ firmware: 'fleetbind', version: '1.2.3', chip: 'moddable_two', name: 'esp32-240ac4000001' }),
    log: () => {},
  });
  const decoder = new ImprovDecoder();
  const steps: ImprovTranscript['steps'] = [];
  const step = (name: string, bytes: Uint8Array | null): void => {
    if (bytes) {
      // Split in two to show packets may arrive in pieces, with console noise before them.
      const noisy = new Uint8Array(bytes.length + 5);
      noisy.set([0x6c, 0x6f, 0x67, 0x0d, 0x0a], 0);
      noisy.set(bytes, 5);
      service.receive(noisy.subarray(0, 7));
      service.receive(noisy.subarray(7));
    } else {
      const run = pending;
      pending = null;
      run?.();
    }
    const replies: Array<[number, number[]]> = [];
    for (const chunk of out.splice(0)) for (const f of decoder.push(chunk)) if (f.kind === 'packet') replies.push([f.packet.type, Array.from(f.packet.data)]);
    steps.push({ sent: name, replies });
  };
  step('state', encodeImprov(ImprovType.RPC, encodeRpc(ImprovCommand.CURRENT_STATE, [])));
  step('info', encodeImprov(ImprovType.RPC, encodeRpc(ImprovCommand.DEVICE_INFO, [])));
  step('wrong passphrase', encodeImprov(ImprovType.RPC, encodeRpc(ImprovCommand.WIFI_SETTINGS, ['lab', 'not-the-passphrase'])));
  step('join fails', null);
  step('right passphrase', encodeImprov(ImprovType.RPC, encodeRpc(ImprovCommand.WIFI_SETTINGS, ['lab', 'lab-passphrase'])));
  step('join succeeds', null);
  step('state again', encodeImprov(ImprovType.RPC, encodeRpc(ImprovCommand.CURRENT_STATE, [])));
  const corrupt = encodeImprov(ImprovType.RPC, encodeRpc(ImprovCommand.CURRENT_STATE, []));
  corrupt[corrupt.length - 2] = (corrupt[corrupt.length - 2]! + 1) & 0xff;
  step('bad checksum', corrupt);
  step('scan (not offered)', encodeImprov(ImprovType.RPC, encodeRpc(ImprovCommand.WIFI_NETWORKS, [])));
  const infoReply = steps[1]!.replies[0];
  return { steps, joins, prefs, info: infoReply ? decodeStrings(Uint8Array.from(infoReply[1].slice(2))) : null };
}
