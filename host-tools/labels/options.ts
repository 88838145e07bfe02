// Command-line options of `npm run labels`, all checked before the broker is asked anything.
import { isProtocolError } from '../../protocol/errors';
import { normaliseMachineCode, tryNormaliseId } from '../../protocol/ids';
import { CONNECTION_OPTIONS, type Connection, resolveConnection } from '../api/connection';
import { usageError } from '../api/errors';
import { defineCli, parseCli } from '../cli/args';

export const FORMATS = ['pdf', 'svg', 'png'] as const;
export type Format = (typeof FORMATS)[number];

export const LABELS_CLI = defineCli({
  command: 'npm run labels --',
  usage: ['(--machines CODE[,CODE...] | --from-registry | --location ID[,ID...]) [--orders] --out DIR [--format pdf,svg] [options]'],
  summary:
    "Prints signed labels: A4 PDF sheets, and one SVG or PNG per label. A machine label's QR code opens the claim page at the broker's public URL; with --orders it is the walk-up order label (/o/<code>.<sig>) a customer scans to order, which claims nothing; a location label's (/p/<location>.<sig>) selects that location's pool for the next job, with no claim.",
  options: {
    machines: { type: 'string', multiple: true, value: 'CODES', help: 'machine codes to print, comma-separated (the option may repeat)' },
    'from-registry': { type: 'boolean', default: false, help: 'every device in the registry that has a machine code' },
    orders: { type: 'boolean', default: false, help: 'walk-up order labels of the machines (each must take orders) instead of claim labels' },
    location: {
      type: 'string',
      multiple: true,
      value: 'IDS',
      help: "location labels instead: each selects that location's pool (comma-separated; the option may repeat)",
    },
    format: { type: 'string', value: 'LIST', default: 'pdf,svg', help: 'any of pdf (A4 sheets), svg, png (one file per machine)' },
    out: { type: 'string', value: 'DIR', help: 'folder for labels.pdf and CODE.svg / CODE.png (created if missing)' },
    'allow-local': { type: 'boolean', default: false, help: "print even when the broker's public URL is localhost or another address a phone cannot open" },
    ...CONNECTION_OPTIONS,
  },
});

/** Machine labels are for claiming (agents) or for walk-up orders (customers). */
export type Purpose = 'claim' | 'order';
export type Selection = { kind: 'machines'; codes: string[]; purpose: Purpose } | { kind: 'registry'; purpose: Purpose } | { kind: 'locations'; ids: string[] };

export interface LabelOptions {
  selection: Selection;
  formats: Format[];
  out: string;
  allowLocal: boolean;
  connection: Connection;
}

export function parseLabelOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): LabelOptions | 'help' {
  const { values, help } = parseCli(LABELS_CLI, argv, env);
  if (help) return 'help';

  let selection: Selection;
  if ([values.machines !== undefined, values['from-registry'], values.location !== undefined].filter(Boolean).length > 1)
    throw usageError('use one of --machines CODES, --from-registry or --location IDS');
  if (values.orders && values.location !== undefined)
    throw usageError('--orders prints machine labels: use it with --machines or --from-registry, not --location');
  const purpose: Purpose = values.orders ? 'order' : 'claim';
  if (values.location !== undefined) {
    const raw = values.location
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
    if (raw.length === 0) throw usageError('--location is empty: give location ids such as hall-1');
    const ids = raw.map((id) => {
      const n = tryNormaliseId(id);
      if (n === null) throw usageError(`--location: ${JSON.stringify(id)} is not a location id`);
      return n;
    });
    selection = { kind: 'locations', ids: [...new Set(ids)] };
  } else if (values.machines !== undefined) {
    const raw = values.machines
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
    if (raw.length === 0) throw usageError('--machines is empty: give machine codes such as CT0700026,CT0700027');
    const codes = raw.map((c) => {
      try {
        return normaliseMachineCode(c);
      } catch (e) {
        if (isProtocolError(e)) throw usageError(`--machines: ${JSON.stringify(c)} is not a machine code (${e.message})`);
        throw e;
      }
    });
    selection = { kind: 'machines', codes: [...new Set(codes)], purpose };
  } else if (values['from-registry']) {
    selection = { kind: 'registry', purpose };
  } else {
    throw usageError('say which labels to print: --machines CT0700026,CT0700027, --from-registry or --location hall-1');
  }

  const formats = values.format
    .split(',')
    .map((f) => f.trim().toLowerCase())
    .filter((f) => f !== '');
  const unknown = formats.filter((f) => !(FORMATS as readonly string[]).includes(f));
  if (formats.length === 0 || unknown.length > 0) throw usageError(`--format must list some of ${FORMATS.join(', ')}; got ${JSON.stringify(values.format)}`);
  if (!values.out) throw usageError('--out DIR is required: the folder the labels are written to');

  return {
    selection,
    formats: [...new Set(formats)] as Format[],
    out: values.out,
    allowLocal: values['allow-local'],
    connection: resolveConnection(values, env),
  };
}
