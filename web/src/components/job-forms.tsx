// One form per job kind: payment QR, identify, and serial send (advanced), for a machine the agent
// holds or for any free machine of a pool. Each validates its params with the same schema the
// broker uses (protocol/jobs.ts) before sending.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ProtocolError } from '../../../protocol/errors';
import { type JobKind, parseJobParams } from '../../../protocol/jobs';
import type { AgentLive, SubmitTo } from '../lib/agent-live';
import { navigate } from '../lib/router';
import { errorText } from '../lib/words';
import type { PaymentSettings } from '../../../protocol/rest';
import { type PaymentFormat, PaymentFields, type PaymentValues, defaultFormat, paymentText, usePaymentSettings } from './payment-fields';
import { QrPreview } from './qr';
import { Alert, Field } from './ui';

/** Where the app goes once a job is submitted: a pool job's own page shows which machine took it. */
export function submittedPath(to: SubmitTo, job: string): string {
  return 'pool' in to ? `/pool-jobs/${encodeURIComponent(job)}` : `/devices/${encodeURIComponent(to.device)}/jobs/${encodeURIComponent(job)}`;
}

function useSubmit(agent: AgentLive, to: SubmitTo) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fail = (err: unknown) => setError(err instanceof ProtocolError ? `Please check “${err.field ?? 'the form'}”: ${err.message}.` : errorText(err));
  const send = async (kind: JobKind, params: Record<string, unknown>) => {
    setBusy(true);
    setError(null);
    try {
      parseJobParams(kind, params);
      const { job } = await agent.submit(to, kind, params);
      navigate(submittedPath(to, job));
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, send, fail };
}

const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));

function bytesOf(text: string, encoding: 'text' | 'hex'): Uint8Array {
  if (encoding === 'text') return new TextEncoder().encode(text);
  const hex = text.replace(/[\s:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new ProtocolError('BAD_PARAMS', 'hex data must be pairs of hex digits, such as 1B 40 0A', 'data');
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

export function PaymentForm(props: { agent: AgentLive; to: SubmitTo }): JSX.Element {
  const settings = usePaymentSettings();
  return settings === null ? <p class="hint">Loading the payment formats…</p> : <PaymentFormWith {...props} settings={settings} />;
}

function PaymentFormWith(props: { agent: AgentLive; to: SubmitTo; settings: PaymentSettings }): JSX.Element {
  const { busy, error, send, fail } = useSubmit(props.agent, props.to);
  const [format, setFormat] = useState<PaymentFormat>(defaultFormat(props.settings));
  const [values, setValues] = useState<PaymentValues>({});
  const [amount, setAmount] = useState('');
  const [currency, setCurrency] = useState('EUR');
  const [reference, setReference] = useState('');
  const [minutes, setMinutes] = useState('5');
  const [hold, setHold] = useState(false);
  const value = Number(amount.replace(',', '.'));
  const common = { amount: value, currency: format === 'epc' ? 'EUR' : currency.trim().toUpperCase(), reference: reference.trim() };
  let text: string | null = null;
  try {
    text = amount.trim() !== '' && reference.trim() !== '' ? paymentText(format, values, common) : null;
  } catch {
    text = null;
  }

  const submit = (e: Event) => {
    e.preventDefault();
    if (!Number.isFinite(value) || value <= 0) {
      fail(new ProtocolError('BAD_PARAMS', 'enter an amount greater than 0, such as 12.50', 'amount'));
      return;
    }
    let qr: string;
    try {
      qr = paymentText(format, values, common);
    } catch (err) {
      fail(err);
      return;
    }
    const mins = Number(minutes);
    void send('qr.show', {
      text: qr,
      caption: reference.trim().slice(0, 64),
      amount: value,
      currency: common.currency,
      ...(format === 'placeholder' ? {} : { template: format }),
      // Validity counts from when the machine shows the QR, not from now.
      ...(Number.isFinite(mins) && mins > 0 ? { expiresInSeconds: Math.round(mins * 60) } : {}),
      ...(hold ? { hold: true } : {}),
    });
  };

  return (
    <form class="stack" onSubmit={submit} aria-label="Payment QR">
      <div class="two">
        <Field id="pay-amount" label="Amount">
          <input id="pay-amount" inputMode="decimal" required value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        </Field>
        <Field id="pay-currency" label="Currency">
          <input
            id="pay-currency"
            required
            maxLength={3}
            autocapitalize="characters"
            value={format === 'epc' ? 'EUR' : currency}
            disabled={format === 'epc'}
            onInput={(e) => setCurrency(e.currentTarget.value)}
          />
        </Field>
      </div>
      <Field id="pay-reference" label="Reference" hint="Shown on the machine’s screen, for example the order number.">
        <input
          id="pay-reference"
          required
          maxLength={64}
          value={reference}
          onInput={(e) => setReference(e.currentTarget.value)}
          aria-describedby="pay-reference-hint"
        />
      </Field>
      <PaymentFields settings={props.settings} format={format} setFormat={setFormat} values={values} setValue={(k, v) => setValues({ ...values, [k]: v })} />
      <Field id="pay-minutes" label="Valid for (minutes, from when the machine shows it)">
        <input id="pay-minutes" type="number" min={1} max={1440} value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} />
      </Field>
      <div class="check">
        <input id="pay-hold" type="checkbox" checked={hold} onChange={(e) => setHold(e.currentTarget.checked)} />
        <label for="pay-hold">Keep this machine reserved until the payment is confirmed</label>
      </div>
      {text !== null && <QrPreview text={text} label={`Preview of the payment QR for ${amount} ${common.currency}, ${reference}`} />}
      {error && <Alert>{error}</Alert>}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Sending…' : 'Show payment QR'}
      </button>
    </form>
  );
}

export function IdentifyForm(props: { agent: AgentLive; to: SubmitTo }): JSX.Element {
  const { busy, error, send } = useSubmit(props.agent, props.to);
  const [seconds, setSeconds] = useState('5');
  return (
    <form
      class="stack"
      aria-label="Identify"
      onSubmit={(e) => {
        e.preventDefault();
        void send('identify', { seconds: Number(seconds) });
      }}
    >
      <p class="hint">The machine blinks or beeps and shows its id, so you can find it.</p>
      <Field id="identify-seconds" label="For how many seconds">
        <input id="identify-seconds" type="number" min={1} max={60} required value={seconds} onInput={(e) => setSeconds(e.currentTarget.value)} />
      </Field>
      {error && <Alert>{error}</Alert>}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Sending…' : 'Identify'}
      </button>
    </form>
  );
}

export function SerialForm(props: { agent: AgentLive; to: SubmitTo }): JSX.Element {
  const { busy, error, send, fail } = useSubmit(props.agent, props.to);
  const [data, setData] = useState('');
  const [encoding, setEncoding] = useState<'text' | 'hex'>('text');
  const [timeoutMs, setTimeoutMs] = useState('2000');
  const [expect, setExpect] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    try {
      const params: Record<string, unknown> = { data: toBase64(bytesOf(data, encoding)), timeoutMs: Number(timeoutMs) };
      if (expect !== '') params.expect = toBase64(bytesOf(expect, encoding));
      void send('serial.send', params);
    } catch (err) {
      fail(err);
    }
  };
  return (
    <form class="stack" onSubmit={submit} aria-label="Serial send">
      <p class="hint">Advanced: sends bytes to the attached machine over its serial port and shows the reply.</p>
      <fieldset class="inline">
        <legend>Data is</legend>
        <label>
          <input type="radio" name="serial-encoding" checked={encoding === 'text'} onChange={() => setEncoding('text')} /> text
        </label>
        <label>
          <input type="radio" name="serial-encoding" checked={encoding === 'hex'} onChange={() => setEncoding('hex')} /> hex bytes
        </label>
      </fieldset>
      <Field id="serial-data" label="Data to send">
        <textarea id="serial-data" rows={3} required value={data} onInput={(e) => setData(e.currentTarget.value)} />
      </Field>
      <Field id="serial-expect" label="Wait for this reply (optional)">
        <input id="serial-expect" value={expect} onInput={(e) => setExpect(e.currentTarget.value)} />
      </Field>
      <Field id="serial-timeout" label="Timeout (ms)">
        <input id="serial-timeout" type="number" min={1} max={60000} required value={timeoutMs} onInput={(e) => setTimeoutMs(e.currentTarget.value)} />
      </Field>
      {error && <Alert>{error}</Alert>}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Sending…' : 'Send'}
      </button>
    </form>
  );
}

const FORMS = [
  ['qr.show', 'Payment QR'],
  ['identify', 'Identify'],
  ['serial.send', 'Serial (advanced)'],
] as const;

/** The kind picker and the form of the kind picked, for a machine or for a pool. */
export function NewJobForms(props: { agent: AgentLive; to: SubmitTo }): JSX.Element {
  const [kind, setKind] = useState<(typeof FORMS)[number][0]>('qr.show');
  return (
    <>
      <fieldset class="segments">
        <legend>Kind of job</legend>
        {FORMS.map(([k, label]) => (
          <label key={k} class={kind === k ? 'on' : ''}>
            <input type="radio" name="job-kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
            {label}
          </label>
        ))}
      </fieldset>
      {kind === 'qr.show' && <PaymentForm agent={props.agent} to={props.to} />}
      {kind === 'identify' && <IdentifyForm agent={props.agent} to={props.to} />}
      {kind === 'serial.send' && <SerialForm agent={props.agent} to={props.to} />}
    </>
  );
}
