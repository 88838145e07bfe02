/// <reference types="w3c-web-serial" />
// Improv Wi-Fi over serial from the Flash page: give a device that runs the fleetbind firmware its
// Wi-Fi network (after flashing without one, or to move it), the same exchange as
// `npm run flash -- improv` (host-tools/flash/improv-client.ts).
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ToolError } from '../../../../host-tools/api/errors';
import { wifiProblem } from '../../../../host-tools/flash/wifi';
import { Alert, Field } from '../../components/ui';

const IMPROV_TIMEOUT_MS = 60_000;

export function ImprovPanel(props: { busy: boolean }): JSX.Element {
  const [ssid, setSsid] = useState('');
  const [psk, setPsk] = useState('');
  const [working, setWorking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const send = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    const problem = wifiProblem(ssid, psk === '' ? undefined : psk);
    if (problem) return setError(`Wi-Fi: ${problem}.`);
    let port: SerialPort;
    try {
      port = await navigator.serial.requestPort();
    } catch (err) {
      return setError(`No serial port was picked (${(err as Error).message}).`);
    }
    setWorking(true);
    try {
      const { improvSetWifi } = await import('../../../../host-tools/flash/improv-client');
      const { info } = await improvSetWifi(port, 'the selected serial port', ssid, psk, { timeoutMs: IMPROV_TIMEOUT_MS });
      setDone(`${info.name} (${info.firmware} ${info.version} on ${info.chip}) joined ${ssid}.`);
    } catch (err) {
      setError(err instanceof ToolError ? err.message : `Something went wrong: ${(err as Error).message}`);
    } finally {
      setWorking(false);
    }
  };

  return (
    <form class="card stack" onSubmit={send} aria-labelledby="improv-h">
      <h2 id="improv-h">Wi-Fi over Improv</h2>
      <p class="sub">Give a device running the fleetbind firmware its Wi-Fi network over the serial port, without flashing.</p>
      {error && <Alert testid="improv-error">{error}</Alert>}
      {done && (
        <Alert kind="ok" testid="improv-done">
          {done}
        </Alert>
      )}
      <div class="two">
        <Field id="improv-ssid" label="Network (SSID)">
          <input id="improv-ssid" required value={ssid} onInput={(e) => setSsid(e.currentTarget.value)} />
        </Field>
        <Field id="improv-psk" label="Passphrase">
          <input id="improv-psk" type="password" value={psk} onInput={(e) => setPsk(e.currentTarget.value)} autocomplete="off" />
        </Field>
      </div>
      <button type="submit" disabled={working || props.busy || !('serial' in navigator)}>
        {working ? 'Sending…' : 'Send Wi-Fi over Improv'}
      </button>
    </form>
  );
}
