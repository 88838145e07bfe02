// Every job in the fleet, newest first, filtered by state, device or agent; open ones can be
// cancelled (audited as the admin's act).
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { JOB_STATES } from '../../../../protocol/jobs';
import { AdminJobs } from '../../components/admin-jobs';
import { Field, Page } from '../../components/ui';

export function AdminJobsPage(): JSX.Element {
  const [state, setState] = useState('');
  const [device, setDevice] = useState('');
  const [agent, setAgent] = useState('');
  return (
    <Page title="Jobs">
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field id="jobs-state" label="State">
          <select id="jobs-state" value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">all</option>
            {JOB_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <Field id="jobs-device" label="Device id">
          <input id="jobs-device" type="search" autocapitalize="none" value={device} onChange={(e) => setDevice(e.currentTarget.value.trim().toLowerCase())} />
        </Field>
        <Field id="jobs-agent" label="Agent id">
          <input id="jobs-agent" type="search" autocapitalize="none" value={agent} onChange={(e) => setAgent(e.currentTarget.value.trim().toLowerCase())} />
        </Field>
      </form>
      <AdminJobs {...(state ? { state } : {})} {...(device ? { device } : {})} {...(agent ? { agent } : {})} />
    </Page>
  );
}
