/// <reference types="w3c-web-serial" />
// Flash a device from the browser, as ESP Web Tools does: pick the firmware folder, fill in how the
// device gets its identity, pick the serial port (Web Serial, Chromium browsers), and watch each
// image being written and verified. The steps and checks are `npm run flash`'s own
// (host-tools/flash), so the device ends up with the same bytes either way.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ToolError } from '../../../../host-tools/api/errors';
import type { DeviceSummary } from '../../../../host-tools/flash/flash-device';
import type { FirmwareBuild } from '../../../../host-tools/flash/firmware-images';
import { checkTrust, isSecureBroker, MAX_CA_BYTES, type TrustProblem } from '../../../../host-tools/flash/trust';
import { wifiProblem } from '../../../../host-tools/flash/wifi';
import { normaliseMachineCode } from '../../../../protocol/ids';
import { isProtocolError } from '../../../../protocol/errors';
import { Alert, Field, Page } from '../../components/ui';
import { session } from '../../lib/session';
import { errorText } from '../../lib/words';
import { ImprovPanel } from './improv-panel';

const BAUDS = [115200, 230400, 460800, 921600];
const hasWebSerial = (): boolean => 'serial' in navigator;
const hex = (n: number): string => `0x${n.toString(16)}`;

function problemText(err: unknown): string {
  if (err instanceof ToolError || isProtocolError(err)) return (err as Error).message;
  return errorText(err);
}

const TRUST_TEXT: Record<TrustProblem, string> = {
  'ca-and-insecure': 'Give either the CA certificate or allow plain MQTT, not both.',
  'ca-on-plain': 'A CA certificate goes with an mqtts:// broker URL; this one is plain.',
  'plain-not-allowed': 'With a plain mqtt:// broker the device secret travels in clear: use mqtts:// with the CA certificate, or allow plain MQTT.',
  'no-ca': 'An mqtts:// broker needs its CA certificate: the device trusts only the certificate it is given.',
  'not-pem': 'The CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----).',
  'ca-too-big': `The CA file is larger than the ${MAX_CA_BYTES} bytes the device can store; give only the CA certificate.`,
};

interface Bar {
  label: string;
  total: number;
  done: number;
}

export function AdminFlash(): JSX.Element {
  const folder = useRef<HTMLInputElement>(null);
  const [builds, setBuilds] = useState<FirmwareBuild[] | null>(null);
  const [broker, setBroker] = useState(`mqtt://${location.hostname}:1883`);
  const [caPem, setCaPem] = useState<string | undefined>(undefined);
  const [insecure, setInsecure] = useState(false);
  const [identity, setIdentity] = useState<'provision' | 'enroll'>('provision');
  const [reprovision, setReprovision] = useState(false);
  const [token, setToken] = useState('');
  const [machine, setMachine] = useState('');
  const [ssid, setSsid] = useState('');
  const [psk, setPsk] = useState('');
  const [erase, setErase] = useState(false);
  const [baud, setBaud] = useState(921600);
  const [busy, setBusy] = useState(false);
  const [lines, setLines] = useState<string[]>([]);
  const [bar, setBar] = useState<Bar | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<DeviceSummary | null>(null);

  useEffect(() => {
    // A folder picker: the artefact's manifest names images in subfolders.
    if (folder.current) folder.current.webkitdirectory = true;
  }, []);

  const pickFirmware = async (files: FileList | null) => {
    setError(null);
    setBuilds(null);
    if (!files || files.length === 0) return;
    try {
      // esptool-js and the image checks load only here, not with the agents' app.
      const { firmwareFromFiles } = await import('../../lib/flash-firmware');
      setBuilds(await firmwareFromFiles(Array.from(files)));
    } catch (err) {
      setError(problemText(err));
    }
  };

  const start = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    if (!builds) return setError('Pick the firmware folder first.');
    let machineCode: string | undefined;
    try {
      machineCode = machine.trim() === '' ? undefined : normaliseMachineCode(machine);
    } catch (err) {
      return setError(`Machine code: ${problemText(err)}`);
    }
    const wifi = ssid === '' ? undefined : psk === '' ? { ssid } : { ssid, psk };
    const problem = wifi ? wifiProblem(wifi.ssid, wifi.psk) : null;
    if (problem) return setError(`Wi-Fi: ${problem}.`);
    if (identity === 'enroll' && token.trim() === '') return setError('Enter the enrollment token, or register the device now.');
    const secure = isSecureBroker(broker.trim());
    const trust = checkTrust(broker.trim(), secure ? caPem : undefined, !secure && insecure);
    if (typeof trust === 'string') return setError(TRUST_TEXT[trust]);
    const s = session.get();
    if (!s) return setError('Your session has ended; sign in again.');
    let picked: SerialPort;
    try {
      picked = await navigator.serial.requestPort();
    } catch (err) {
      return setError(`No serial port was picked (${(err as Error).message}).`);
    }
    setBusy(true);
    setLines([]);
    setBar(null);
    const add = (line: string) => setLines((l) => [...l, line]);
    try {
      const { flashInBrowser } = await import('../../lib/web-flash');
      const summary = await flashInBrowser(
        picked,
        builds,
        {
          broker: broker.trim(),
          trust,
          identity: identity === 'provision' ? { kind: 'provision', reprovision } : { kind: 'enroll', token: token.trim() },
          ...(wifi ? { wifi } : {}),
          ...(machineCode ? { machine: machineCode } : {}),
          erase,
          baud,
        },
        s.token,
        {
          step: (t) => add(t),
          note: (t) => add(`  ${t}`),
          warn: (t) => add(`  warning: ${t}`),
          startImage: (label, total) => setBar({ label, total, done: 0 }),
          update: (n) => setBar((b) => (b ? { ...b, done: n } : b)),
        },
      );
      setDone(summary);
    } catch (err) {
      setError(problemText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Flash a device">
      {!hasWebSerial() && (
        <Alert kind="info" testid="no-web-serial">
          This browser cannot reach serial ports. Use Chrome or Edge on a computer, or run npm run flash.
        </Alert>
      )}
      {error && <Alert testid="flash-error">{error}</Alert>}
      <section class="card" aria-labelledby="fw-h">
        <h2 id="fw-h">Firmware</h2>
        <Field
          id="flash-firmware"
          label="Firmware folder"
          hint="The release artefact folder from npm run build:firmware -- --release (with manifest.json), or a build folder."
        >
          <input
            id="flash-firmware"
            ref={folder}
            type="file"
            multiple
            aria-describedby="flash-firmware-hint"
            onChange={(e) => void pickFirmware(e.currentTarget.files)}
          />
        </Field>
        {builds && (
          <ul class="queue" data-testid="flash-firmware">
            {builds.map((b) => (
              <li key={b.chip.name}>
                <strong>{b.chip.name}</strong>: bootloader at {hex(b.bootloader.offset)}, app {Math.round(b.app.data.length / 1024)} KiB at {hex(b.app.offset)},
                nvs at {hex(b.nvs.offset)}
              </li>
            ))}
          </ul>
        )}
      </section>
      <form class="card stack" onSubmit={start} aria-labelledby="dev-h">
        <h2 id="dev-h">Device</h2>
        <Field id="flash-broker" label="Broker URL" hint="The MQTT URL the device connects to.">
          <input id="flash-broker" required value={broker} onInput={(e) => setBroker(e.currentTarget.value)} aria-describedby="flash-broker-hint" />
        </Field>
        {isSecureBroker(broker.trim()) ? (
          <Field id="flash-ca" label="Broker's CA certificate (PEM)" hint="The device trusts only this certificate.">
            <input
              id="flash-ca"
              type="file"
              accept=".pem,.crt"
              aria-describedby="flash-ca-hint"
              onChange={(e) => void e.currentTarget.files?.[0]?.text().then(setCaPem)}
            />
          </Field>
        ) : (
          <label class="choice">
            <input type="checkbox" checked={insecure} onChange={(e) => setInsecure(e.currentTarget.checked)} /> Allow plain MQTT (no TLS: the device secret
            travels in clear)
          </label>
        )}
        <fieldset class="choices">
          <legend>Identity</legend>
          <label>
            <input type="radio" name="identity" checked={identity === 'provision'} onChange={() => setIdentity('provision')} /> Register it now (its secret goes
            into its flash only)
          </label>
          <label>
            <input type="radio" name="identity" checked={identity === 'enroll'} onChange={() => setIdentity('enroll')} /> It registers itself with an enrollment
            token
          </label>
        </fieldset>
        {identity === 'provision' ? (
          <label class="choice">
            <input type="checkbox" checked={reprovision} onChange={(e) => setReprovision(e.currentTarget.checked)} /> Give an already registered MAC a new
            secret
          </label>
        ) : (
          <Field id="flash-token" label="Enrollment token">
            <input id="flash-token" value={token} onInput={(e) => setToken(e.currentTarget.value)} autocomplete="off" />
          </Field>
        )}
        <Field id="flash-machine" label="Machine code (optional)">
          <input id="flash-machine" value={machine} onInput={(e) => setMachine(e.currentTarget.value)} />
        </Field>
        <div class="two">
          <Field id="flash-ssid" label="Wi-Fi network (optional)" hint="Or set it later over Improv, below.">
            <input id="flash-ssid" value={ssid} onInput={(e) => setSsid(e.currentTarget.value)} aria-describedby="flash-ssid-hint" />
          </Field>
          <Field id="flash-psk" label="Wi-Fi passphrase">
            <input id="flash-psk" type="password" value={psk} onInput={(e) => setPsk(e.currentTarget.value)} autocomplete="off" />
          </Field>
        </div>
        <div class="two">
          <Field id="flash-baud" label="Speed (baud)">
            <select id="flash-baud" value={String(baud)} onChange={(e) => setBaud(Number(e.currentTarget.value))}>
              {BAUDS.map((b) => (
                <option key={b} value={String(b)}>
                  {b}
                </option>
              ))}
            </select>
          </Field>
          <label class="choice">
            <input type="checkbox" checked={erase} onChange={(e) => setErase(e.currentTarget.checked)} /> Erase the whole flash first
          </label>
        </div>
        <button type="submit" class="primary" disabled={busy || !builds || !hasWebSerial()}>
          {busy ? 'Flashing…' : 'Connect and flash'}
        </button>
      </form>
      {(lines.length > 0 || bar) && (
        <section class="card" aria-labelledby="prog-h" data-testid="flash-progress-card">
          <h2 id="prog-h">Progress</h2>
          {bar && (
            <div class="progress">
              <span>{bar.label}</span>
              <progress data-testid="flash-progress" max={bar.total} value={bar.done} aria-label={`Writing ${bar.label}`} />
              <span data-testid="flash-percent">{bar.total === 0 ? 100 : Math.floor((bar.done / bar.total) * 100)}%</span>
            </div>
          )}
          <pre class="log" data-testid="flash-log" aria-live="polite">
            {lines.join('\n')}
          </pre>
        </section>
      )}
      {done && (
        <Alert kind="ok" testid="flash-done">
          Flashed and verified {done.chip} (MAC {done.mac}) as {done.deviceId}
          {done.provisioned ? '; it is registered.' : '; it registers itself on first boot.'}
        </Alert>
      )}
      <ImprovPanel busy={busy} />
    </Page>
  );
}
