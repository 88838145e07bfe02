// Audit rows as a person reads them: when, what, who, about which device and agent, and the
// details in one line. The device page, the dashboard and the audit page share it.
import type { JSX } from 'preact';
import type { AuditView } from '../../../protocol/rest';
import { dateTime } from '../lib/words';

export function detailText(d: Record<string, unknown>): string {
  return Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}

export function AuditEntries(props: { rows: AuditView[]; testid?: string; showDevice?: boolean }): JSX.Element {
  return (
    <ol class="audit" data-testid={props.testid ?? 'audit'}>
      {props.rows.map((a) => (
        <li key={a.seq} data-seq={a.seq} data-action={a.action}>
          <time dateTime={new Date(a.at).toISOString()}>{dateTime(a.at)}</time> <strong>{a.action}</strong> by {a.actor}
          {props.showDevice && a.device && (
            <>
              {' '}
              · device <span class="mono">{a.device}</span>
            </>
          )}
          {a.agent && <> · agent {a.agent}</>}
          {Object.keys(a.detail).length > 0 && <span class="sub"> · {detailText(a.detail)}</span>}
        </li>
      ))}
    </ol>
  );
}
