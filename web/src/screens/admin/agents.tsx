// Agents: create (ids such as 263 are fine), reset a password, disable or enable, and unlock an
// agent whose logins are blocked after failed attempts.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Alert, Field, Page } from '../../components/ui';
import type { AgentListItem, LoginBlockView } from '../../../../protocol/rest';
import { authed } from '../../lib/session';
import { useAction } from '../../lib/use-action';
import { errorText } from '../../lib/words';

function ResetPassword(props: { agent: AgentListItem; onDone(msg: string): void; onError(msg: string): void }): JSX.Element {
  const [open, setOpen] = useState(false);
  const [pw, setPw] = useState('');
  const fid = `reset-${props.agent.id}`;
  if (!open) {
    return (
      <button type="button" class="secondary small" onClick={() => setOpen(true)}>
        Reset password
      </button>
    );
  }
  return (
    <form
      class="inline-form"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          await authed('PATCH', `/api/agents/${encodeURIComponent(props.agent.id)}`, { password: pw });
          setOpen(false);
          setPw('');
          props.onDone(`New password set for ${props.agent.id}.`);
        } catch (err) {
          props.onError(errorText(err));
        }
      }}
    >
      <label for={fid}>New password for {props.agent.id}</label>
      <input id={fid} type="password" autocomplete="new-password" minLength={8} required value={pw} onInput={(e) => setPw(e.currentTarget.value)} />
      <button type="submit" class="primary small">
        Save
      </button>
      <button type="button" class="secondary small" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}

export function AdminAgents(): JSX.Element {
  const [rows, setRows] = useState<AgentListItem[] | null>(null);
  const [blocks, setBlocks] = useState<LoginBlockView[]>([]);
  const { error, setError, done, setDone, reload, run } = useAction();
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [pw, setPw] = useState('');
  const [limit, setLimit] = useState('');

  useEffect(() => {
    authed<AgentListItem[]>('GET', '/api/agents').then(setRows, (err: unknown) => setError(errorText(err)));
    authed<LoginBlockView[]>('GET', '/api/blocks').then(setBlocks, (err: unknown) => setError(errorText(err)));
  }, [reload]);

  const create = (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = { id: id.trim(), name: name.trim(), password: pw };
    if (limit.trim() !== '') body.deviceLimit = Number(limit);
    void run(`Agent ${id.trim().toLowerCase()} created.`, async () => {
      await authed('POST', '/api/agents', body);
      setId('');
      setName('');
      setPw('');
      setLimit('');
    });
  };

  return (
    <Page title="Agents">
      {done && (
        <Alert kind="ok" testid="admin-done">
          {done}
        </Alert>
      )}
      {error && <Alert testid="admin-error">{error}</Alert>}
      <section class="card" aria-labelledby="new-agent-h">
        <h2 id="new-agent-h">New agent</h2>
        <form class="stack" onSubmit={create}>
          <Field id="agent-id" label="Agent ID" hint="Letters, digits, '.', '_' or '-'; numbers such as 263 are fine.">
            <input id="agent-id" required autocapitalize="none" value={id} onInput={(e) => setId(e.currentTarget.value)} aria-describedby="agent-id-hint" />
          </Field>
          <Field id="agent-name" label="Name">
            <input id="agent-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field id="agent-password" label="Password (at least 8 characters)">
            <input
              id="agent-password"
              type="password"
              autocomplete="new-password"
              minLength={8}
              required
              value={pw}
              onInput={(e) => setPw(e.currentTarget.value)}
            />
          </Field>
          <Field id="agent-limit" label="Device limit (empty for the default)">
            <input id="agent-limit" type="number" min={1} max={10000} value={limit} onInput={(e) => setLimit(e.currentTarget.value)} />
          </Field>
          <button type="submit" class="primary">
            Create agent
          </button>
        </form>
      </section>
      <ul class="cards" aria-label="Agents" data-testid="agents">
        {(rows ?? []).map((a) => {
          const blocked = blocks.filter((b) => b.subject === `agent:${a.id}`);
          return (
            <li key={a.id} class="card" data-agent={a.id}>
              <p class="row">
                <strong class="mono">{a.id}</strong>
                <span data-testid="agent-status" class={a.disabled ? 'state state-failed' : 'state state-done'}>
                  {a.disabled ? 'disabled' : 'active'}
                </span>
              </p>
              <p class="sub">
                {a.name} · {a.devices} machine{a.devices === 1 ? '' : 's'}
                {a.deviceLimit !== null && ` (limit ${a.deviceLimit})`}
              </p>
              {blocked.length > 0 && (
                <p class="sub" data-testid="agent-blocked">
                  Logins blocked after {Math.max(...blocked.map((b) => b.failures))} failed attempts
                  {blocked.some((b) => b.address !== null) && ` from ${blocked.flatMap((b) => (b.address === null ? [] : [b.address])).join(', ')}`}
                </p>
              )}
              <div class="actions">
                <ResetPassword agent={a} onDone={setDone} onError={setError} />
                <button
                  type="button"
                  class={a.disabled ? 'secondary small' : 'danger small'}
                  onClick={() =>
                    void run(`Agent ${a.id} ${a.disabled ? 'enabled' : 'disabled'}.`, () =>
                      authed('PATCH', `/api/agents/${encodeURIComponent(a.id)}`, { disabled: !a.disabled }),
                    )
                  }
                >
                  {a.disabled ? 'Enable' : 'Disable'}
                </button>
                {blocked.length > 0 && (
                  <button
                    type="button"
                    class="secondary small"
                    onClick={() => void run(`Agent ${a.id} unlocked.`, () => authed('POST', `/api/agents/${encodeURIComponent(a.id)}/unlock`))}
                  >
                    Unlock logins
                  </button>
                )}
              </div>
            </li>
          );
        })}
      </ul>
    </Page>
  );
}
