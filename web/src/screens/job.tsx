// One job, live: state, position and ETA, progress, the state timeline, the payment QR it shows,
// its result, and Cancel while it is open.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Eta, Progress, StateBadge, Timeline, positionText } from '../components/jobs';
import { ExportButtons } from '../components/export';
import { QrPreview } from '../components/qr';
import { Alert, Page } from '../components/ui';
import { isOpen } from '../lib/agent-live';
import { useAgent } from '../lib/live';
import { useObservable } from '../lib/observable';
import { authed } from '../lib/session';
import { errorText, jobKindText, jobStatusText, money } from '../lib/words';
import { CancelButton } from './device';

function decodeBase64(b64: string): string {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return /^[\x20-\x7e\r\n\t]*$/.test(text) ? text : hex;
}

function ResultView(props: { kind: string; result: unknown }): JSX.Element | null {
  if (props.result === null || props.result === undefined) return null;
  const r = props.result as Record<string, unknown>;
  // The firmware's serial.send answers {data: base64, bytes, truncated?}.
  if (props.kind === 'serial.send' && typeof r.data === 'string') {
    return (
      <div>
        <h2>Reply</h2>
        <pre data-testid="serial-reply">{decodeBase64(r.data)}</pre>
        {r.truncated === true && <p class="hint">The reply was cut short by the machine ({String(r.bytes)} bytes in all).</p>}
      </div>
    );
  }
  return (
    <div>
      <h2>Result</h2>
      <pre>{JSON.stringify(props.result, null, 2)}</pre>
    </div>
  );
}

/** For a payment QR that reserves the machine: the agent confirms the customer paid (cash, card). */
function PaidButton(props: { job: string }): JSX.Element {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await authed('POST', `/api/jobs/${encodeURIComponent(props.job)}/complete`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="primary" onClick={confirm} disabled={busy}>
        {busy ? 'Confirming…' : 'Payment received'}
      </button>
      {error && <Alert>{error}</Alert>}
    </>
  );
}

export function JobPage(props: { device: string; job: string }): JSX.Element {
  const agent = useAgent();
  const st = useObservable(agent.state);
  const j = st.jobs[props.job];
  const [loadError, setLoadError] = useState<string | null>(null);
  const linkState = useObservable(agent.link.state);

  useEffect(() => {
    if (j?.params || linkState !== 'online') return;
    agent.history(props.device).then(
      (views) => {
        if (!views.some((v) => v.job === props.job)) setLoadError('This job was not found among your jobs on this machine.');
      },
      (err: unknown) => setLoadError(errorText(err)),
    );
  }, [props.job, linkState]);

  const back = { href: `/devices/${encodeURIComponent(props.device)}`, label: 'Back to the machine' };
  if (!j) {
    return (
      <Page title="Job" back={back}>
        {loadError ? <Alert>{loadError}</Alert> : <p class="hint">Loading the job…</p>}
      </Page>
    );
  }
  const p = j.params ?? {};
  const machine = st.devices.find((d) => d.id === j.device);
  return (
    <Page title={jobKindText(j)} back={back}>
      <section class="card stack" aria-label="Job status" data-testid="job" data-job={j.job}>
        <div aria-live="polite" class="stack">
          <p>
            <StateBadge job={j} /> <span class="sub">on {machine?.machineCode ?? j.device}</span>
          </p>
          {j.position !== null && <p data-testid="job-position">{positionText(j)}</p>}
        </div>
        <p>
          <Eta job={j} />
        </p>
        <Progress job={j} />
        {j.error && <Alert>{`${jobStatusText(j)}: ${j.error.message}`}</Alert>}
        {isOpen(j.state) && p.hold === true && <PaidButton job={j.job} />}
        {isOpen(j.state) && <CancelButton job={j.job} />}
      </section>
      {j.kind === 'qr.show' && typeof p.text === 'string' && (
        <section class="card" aria-label="Payment QR">
          <QrPreview text={p.text} label={`The payment QR shown on the machine${typeof p.caption === 'string' ? `: ${p.caption}` : ''}`} />
          <p class="center">
            {typeof p.amount === 'number' && <strong data-testid="job-amount">{money(p.amount, String(p.currency ?? ''))}</strong>}{' '}
            {typeof p.caption === 'string' && p.caption}
          </p>
        </section>
      )}
      <section class="card" aria-labelledby="timeline-h">
        <h2 id="timeline-h">Timeline</h2>
        <Timeline job={j} />
        <ResultView kind={j.kind} result={j.result} />
        <p>
          Export: <ExportButtons job={j.job} />
        </p>
      </section>
    </Page>
  );
}
