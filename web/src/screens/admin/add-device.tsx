// Provisioning a device by its MAC (with an optional machine code and model): the broker answers
// with the device id and secret, shown here once, with its claim label to download.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { A, Alert, Field, Page } from '../../components/ui';
import { LabelDownloads } from '../../components/label-downloads';
import { authed } from '../../lib/session';
import { errorText } from '../../lib/words';

interface Provisioned {
  id: string;
  secret: string;
  machineCode?: string | null;
}

export function AdminAddDevice(): JSX.Element {
  const [mac, setMac] = useState('');
  const [code, setCode] = useState('');
  const [model, setModel] = useState('');
  const [created, setCreated] = useState<Provisioned | null>(null);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { mac: mac.trim(), ...(code.trim() ? { machineCode: code.trim() } : {}), ...(model.trim() ? { model: model.trim() } : {}) };
      const r = await authed<Provisioned>('POST', '/api/devices', body);
      setCreated({ ...r, machineCode: code.trim() ? code.trim().toUpperCase() : null });
      setMac('');
      setCode('');
      setModel('');
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <Page title="Add device" back={{ href: '/admin', label: 'Fleet' }}>
      {error && <Alert testid="admin-error">{error}</Alert>}
      {created && (
        <Alert kind="ok" testid="provisioned">
          <p>
            Device <A href={`/admin/devices/${encodeURIComponent(created.id)}`}>{created.id}</A> was added. Copy its secret now; it is stored only as a hash and
            is not shown again:
          </p>
          <dl class="facts">
            <dt>Device id</dt>
            <dd>
              <code class="secret" data-testid="new-device-id">
                {created.id}
              </code>
            </dd>
            <dt>Secret</dt>
            <dd>
              <code class="secret" data-testid="new-device-secret">
                {created.secret}
              </code>
            </dd>
          </dl>
          <p class="hint">The device needs both in its NVS (npm run nvs). The Flash page and npm run flash provision a device and write them by themselves.</p>
          {created.machineCode && <LabelDownloads device={created.id} code={created.machineCode} />}
        </Alert>
      )}
      <section class="card" aria-labelledby="add-h">
        <h2 id="add-h">Provision by MAC</h2>
        <form class="stack" onSubmit={submit}>
          <Field id="add-mac" label="MAC address" hint="12 hex digits, such as a4:cf:12:b4:c9:e0.">
            <input
              id="add-mac"
              required
              autocapitalize="none"
              autocomplete="off"
              value={mac}
              onInput={(e) => setMac(e.currentTarget.value)}
              aria-describedby="add-mac-hint"
            />
          </Field>
          <Field id="add-code" label="Machine code (optional)" hint="What the label shows and agents claim by, such as CT0700026.">
            <input
              id="add-code"
              autocapitalize="characters"
              autocomplete="off"
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
              aria-describedby="add-code-hint"
            />
          </Field>
          <Field id="add-model" label="Model (optional)">
            <input id="add-model" autocomplete="off" value={model} onInput={(e) => setModel(e.currentTarget.value)} />
          </Field>
          <button type="submit" class="primary">
            Add device
          </button>
        </form>
      </section>
    </Page>
  );
}
