// Choosing an agent by searching its id or name, instead of typing an exact id: the matches are
// listed to pick from, and an exact id typed in full picks that agent.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { AgentListItem } from '../../../protocol/rest';

const SHOWN = 8;

export function AgentPicker(props: { id: string; label: string; agents: AgentListItem[]; value: string; onChange: (agent: string) => void }): JSX.Element {
  const [q, setQ] = useState('');
  const needle = q.trim().toLowerCase();
  const matches = props.agents.filter((a) => needle === '' || a.id.includes(needle) || a.name.toLowerCase().includes(needle));
  const chosen = props.agents.find((a) => a.id === props.value);
  const search = (text: string) => {
    setQ(text);
    const exact = props.agents.find((a) => a.id === text.trim().toLowerCase());
    props.onChange(exact?.id ?? '');
  };
  return (
    <div class="field picker">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="search"
        autocomplete="off"
        autocapitalize="none"
        placeholder="search by id or name"
        value={q}
        onInput={(e) => search(e.currentTarget.value)}
        aria-describedby={`${props.id}-chosen`}
        aria-controls={`${props.id}-list`}
      />
      <ul id={`${props.id}-list`} class="picker-list" role="listbox" aria-label="Matching agents" data-testid="agent-options">
        {matches.slice(0, SHOWN).map((a) => (
          <li key={a.id} role="option" aria-selected={a.id === props.value}>
            <button type="button" class={a.id === props.value ? 'pick picked' : 'pick'} onClick={() => props.onChange(a.id)} data-agent={a.id}>
              <strong>{a.name}</strong> <span class="mono">{a.id}</span>
              <span class="cell-sub">{a.devices ?? 0} devices</span>
            </button>
          </li>
        ))}
      </ul>
      {matches.length > SHOWN && <p class="hint">{matches.length - SHOWN} more; type more of the id or name.</p>}
      {matches.length === 0 && <p class="hint">No agent matches “{q.trim()}”.</p>}
      <p class="hint" id={`${props.id}-chosen`} role="status" data-testid="agent-chosen">
        {chosen ? `Chosen: ${chosen.name} (${chosen.id})` : 'No agent chosen yet.'}
      </p>
    </div>
  );
}
