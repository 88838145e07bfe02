// Command-line options of `npm run labels`, all checked before the broker is asked anything.
import { parseArgs } from 'node:util';
import { isProtocolError } from '../../protocol/errors';
import { normaliseMachineCode } from '../../protocol/ids';
import { CONNECTION_USAGE, type Connection, connectionOptions, resolveConnection } from '../api/connection';
import { usageError } from '../api/errors';

export const FORMATS = ['pdf', 'svg', 'png'] as const;
export type Format = (typeof FORMATS)[number];

export const USAGE = `usage: npm run labels -- (--machines CODE[,CODE...] | --from-registry) --out DIR [--format pdf,svg]
  --machines CODES   machine codes to print, comma-separated (the option may repeat)
  --from-registry    every device in the registry that has a machine code
  --format LIST      any of pdf (A4 sheets), svg, png (one file per machine); default pdf,svg
  --out DIR          folder for labels.pdf and CODE.svg / CODE.png (created if missing)
  ${CONNECTION_USAGE}`;

export type Selection = { kind: 'machines'; codes: string[] } | { kind: 'registry' };

export interface LabelOptions { selection: Selection; formats: Format[]; out: string; connection: Connection }

export function parseLabelOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): LabelOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        machines: { type: 'string', multiple: true },
        'from-registry': { type: 'boolean', default: false },
        format: { type: 'string', default: 'pdf,svg' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        ...connectionOptions,
      },
    }));
  } catch (e) {
    throw usageError((e as Error).message);
  }
  if (values.help) return 'help';

  let selection: Selection;
  if (values.machines !== undefined && values['from-registry']) throw usageError('use either --machines CODES or --from-registry, not both');
  if (values.machines !== undefined) {
    const raw = values.machines.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
    if (raw.length === 0) throw usageError('--machines is empty: give machine codes such as CT0700026,CT0700027');
    const codes = raw.map((c) => {
      try {
        return normaliseMachineCode(c);
      } catch (e) {
        if (isProtocolError(e)) throw usageError(`--machines: ${JSON.stringify(c)} is not a machine code (${e.message})`);
        throw e;
      }
    });
    selection = { kind: 'machines', codes: [...new Set(codes)] };
  } else if (values['from-registry']) {
    selection = { kind: 'registry' };
  } else {
    throw usageError('say which labels to print: --machines CT0700026,CT0700027 or --from-registry');
  }

  const formats = values.format.split(',').map((f) => f.trim().toLowerCase()).filter((f) => f !== '');
  const unknown = formats.filter((f) => !(FORMATS as readonly string[]).includes(f));
  if (formats.length === 0 || unknown.length > 0) throw usageError(`--format must list some of ${FORMATS.join(', ')}; got ${JSON.stringify(values.format)}`);
  if (!values.out) throw usageError('--out DIR is required: the folder the labels are written to');

  return { selection, formats: [...new Set(formats)] as Format[], out: values.out, connection: resolveConnection(values, env) };
}
