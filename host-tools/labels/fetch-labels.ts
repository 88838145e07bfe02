// The signed label URLs, from the broker: only it holds the fleet's label key, so nothing here
// computes a signature. Each URL is checked to be a label of the code it was asked for.
import { parseClaimTarget } from '../../protocol/claim-target';
import { parseOrderLabel } from '../../protocol/order-label';
import { parsePoolLabel } from '../../protocol/pool-label';
import type { AdminApi } from '../api/admin-api';
import { ToolError } from '../api/errors';
import type { Label, LocationLabel } from '../../protocol/rest';
import type { Purpose, Selection } from './options';

/** The code and signature a label URL carries, read as a claim or as an order label; null when it is not one. */
function parsed(url: string, purpose: Purpose): { code: string; sig: string } | null {
  try {
    if (purpose === 'order') return /\/o\//.test(url) ? parseOrderLabel(url) : null;
    const t = parseClaimTarget(url);
    return t.kind === 'label' ? t : null;
  } catch {
    return null;
  }
}

function checked(l: Label, purpose: Purpose): Label {
  const target = parsed(l.url, purpose);
  if (target === null || target.code !== l.code || (l.sig !== undefined && target.sig !== l.sig)) {
    throw new ToolError(`the broker's ${purpose} label URL for ${l.code} is not a signed ${purpose} label of that code: ${JSON.stringify(l.url)}`);
  }
  return l;
}

export async function fetchLabels(api: AdminApi, selection: Exclude<Selection, { kind: 'locations' }>): Promise<Label[]> {
  let labels: Label[];
  if (selection.kind === 'registry') {
    labels = await api.labels(selection.purpose);
    if (labels.length === 0)
      throw new ToolError(
        selection.purpose === 'order'
          ? 'no machine in the registry takes walk-up orders; nothing to print'
          : 'no device in the registry has a machine code; nothing to print',
      );
  } else {
    labels = await Promise.all(selection.codes.map((code) => api.label(code, selection.purpose)));
    const unknown = labels.filter((l) => l.device === null).map((l) => l.code);
    if (unknown.length > 0) {
      const which = unknown.length === 1 ? `machine code ${unknown[0]} is` : `machine codes ${unknown.join(', ')} are`;
      throw new ToolError(
        `unknown ${which} not in the registry (no device serves ${unknown.length === 1 ? 'it' : 'them'}); provision with npm run flash -- --machine CODE`,
      );
    }
  }
  return labels.map((l) => checked(l, selection.purpose)).sort((a, b) => a.code.localeCompare(b.code));
}

/** Location labels, each checked to be a /p/ label of the location it was asked for. */
export async function fetchLocationLabels(api: AdminApi, ids: string[]): Promise<{ code: string; url: string; fleet: string }[]> {
  const out = [];
  for (const id of ids) {
    const l = await api.request<LocationLabel>('GET', `/api/locations/${encodeURIComponent(id)}/label`, `sign a label for location ${id}`);
    let parsed;
    try {
      parsed = parsePoolLabel(l.url);
    } catch {
      parsed = null;
    }
    if (parsed?.location !== id || !/\/p\//.test(l.url))
      throw new ToolError(`the broker's label URL for location ${id} is not a location label of it: ${JSON.stringify(l.url)}`);
    out.push({ code: id, url: l.url, fleet: l.fleet });
  }
  return out;
}
