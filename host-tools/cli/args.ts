// How every fleetbind command reads its command line: node:util's parseArgs does the parsing; each
// option also carries its description, so that -h/--help lists every option the same way in every
// tool, and an option may fall back to a FLEETBIND_* variable and then a default.
import { parseArgs } from 'node:util';
import { ToolError, usageError } from '../api/errors';

interface OptionText {
  /** What the option does, for --help. */
  help: string;
  /** The placeholder shown after the flag in --help, e.g. "N" or "URL". */
  value?: string;
  /** The environment variable read when the flag is absent. */
  env?: string;
  required?: boolean;
}

export type CliOption =
  | ({ type: 'string'; short?: string; multiple?: false; default?: string } & OptionText)
  | ({ type: 'string'; short?: string; multiple: true; default?: string[] } & OptionText)
  | ({ type: 'boolean'; short?: string; default?: boolean } & OptionText);

export interface CliSpec {
  /** How the command is run, e.g. "npm run simulate --". */
  command: string;
  /** The forms of the command line after `command`, one a line. */
  usage: string[];
  /** What the command does, in a sentence or two. */
  summary: string;
  options: Record<string, CliOption>;
  /** Positional arguments in order, with their descriptions, e.g. {"<input.csv>": "the CSV to read"}. */
  positionals?: Record<string, string>;
  /** Positionals are checked by the command itself (subcommands); otherwise there must be exactly `positionals`. */
  freePositionals?: boolean;
  /** Lines after the option list: examples, where defaults come from. */
  notes?: string[];
}

type ValueOf<O> = O extends { type: 'boolean' } ? boolean : O extends { multiple: true } ? string[] : string;
type Given<O> = O extends { default: unknown } ? ValueOf<O> : O extends { required: true } ? ValueOf<O> : ValueOf<O> | undefined;

export type CliValues<S extends CliSpec> = { -readonly [K in keyof S['options']]: Given<S['options'][K]> };

export interface ParsedCli<S extends CliSpec> {
  values: CliValues<S>;
  positionals: string[];
  /** -h or --help was given; nothing else was checked. */
  help: boolean;
  /** The options in the order given, for commands that check which option belongs where. */
  given: Array<{ name: string; rawName: string }>;
}

/** Keeps the literal types of a spec (option types, defaults) so that values are typed from it. */
export function defineCli<const S extends CliSpec>(spec: S): S {
  return spec;
}

const HELP: CliOption = { type: 'boolean', short: 'h', help: 'show this help and exit' };

function flagText(name: string, o: CliOption): string {
  const long = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  return o.short ? `-${o.short}, ${long}` : long;
}

function defaultText(o: CliOption): string {
  const parts: string[] = [];
  if (o.required) parts.push('required');
  if (o.default !== undefined && o.default !== false && !(Array.isArray(o.default) && o.default.length === 0)) {
    parts.push(`default ${Array.isArray(o.default) ? o.default.join(',') : String(o.default)}`);
  }
  return `${parts.length === 0 ? '' : ` (${parts.join('; ')})`}${o.env ? `  [$${o.env}]` : ''}`;
}

/** Two columns: a term and its description, the description starting on its own line if the term is long. */
function columns(rows: Array<[string, string]>): string[] {
  const width = Math.min(30, Math.max(...rows.map(([t]) => t.length)) + 2);
  return rows.map(([term, text]) => (term.length + 2 > width ? `  ${term}\n  ${' '.repeat(width)}${text}` : `  ${term.padEnd(width)}${text}`));
}

export function helpText(spec: CliSpec): string {
  const lines = spec.usage.map((u, i) => `${i === 0 ? 'usage:' : '      '} ${spec.command} ${u}`);
  lines.push('', spec.summary);
  if (spec.positionals && Object.keys(spec.positionals).length > 0) {
    lines.push('', 'arguments:', ...columns(Object.entries(spec.positionals)));
  }
  const options = { ...spec.options, help: HELP };
  lines.push('', 'options:', ...columns(Object.entries(options).map(([name, o]) => [flagText(name, o), `${o.help}${defaultText(o)}`])));
  if (spec.notes && spec.notes.length > 0) lines.push('', ...spec.notes);
  return lines.join('\n');
}

/** -h or --help before any "--": help wins over every other mistake on the line. */
export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

/**
 * Parses argv against the spec. A mistake throws a usage error (exit 2) naming the flag. With -h or
 * --help anywhere before "--", returns help: true without checking anything else.
 */
export function parseCli<S extends CliSpec>(spec: S, argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedCli<S> {
  const help = wantsHelp(argv);
  const options = Object.fromEntries(
    Object.entries({ ...spec.options, help: HELP }).map(([name, o]) => [
      name,
      o.type === 'boolean'
        ? { type: 'boolean' as const, ...(o.short ? { short: o.short } : {}) }
        : { type: 'string' as const, ...(o.short ? { short: o.short } : {}), ...('multiple' in o && o.multiple ? { multiple: true } : {}) },
    ]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true, tokens: true });
  } catch (e) {
    if (help) return { values: {} as CliValues<S>, positionals: [], help: true, given: [] };
    throw usageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/\s*\n\s*/g, ' '));
  }
  const given = parsed.tokens.flatMap((t) => (t.kind === 'option' ? [{ name: t.name, rawName: t.rawName }] : []));
  if (help) return { values: {} as CliValues<S>, positionals: parsed.positionals, help: true, given };

  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    let v: unknown = parsed.values[name];
    if (v === undefined && o.env !== undefined && env[o.env] !== undefined && env[o.env] !== '') {
      const raw = env[o.env]!;
      v = o.type === 'boolean' ? envBoolean(o.env, raw) : 'multiple' in o && o.multiple ? [raw] : raw;
    }
    if (v === undefined) v = o.default;
    if (v === undefined && o.required) throw usageError(`${flagText(name, o)} is required: ${o.help}`);
    values[name] = v;
  }
  if (!spec.freePositionals) {
    const names = Object.keys(spec.positionals ?? {});
    if (parsed.positionals.length !== names.length) {
      if (names.length === 0) throw usageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`);
      throw usageError(
        `expected ${names.join(' ')}, got ${parsed.positionals.length === 0 ? 'nothing' : parsed.positionals.map((p) => JSON.stringify(p)).join(' ')}`,
      );
    }
  }
  return { values: values as CliValues<S>, positionals: parsed.positionals, help: false, given };
}

function envBoolean(name: string, raw: string): boolean {
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw usageError(`$${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/** The first word of a command after "npm run", for the prefix of its error lines. */
function toolName(spec: CliSpec): string {
  const words = spec.command.split(/\s+/);
  return words[0] === 'npm' ? (words[1] === 'run' ? words[2]! : words[1]!) : words[0]!;
}

/**
 * For scripts: parses process.argv; prints the help and exits 0 on -h/--help; prints a usage
 * mistake as one line and exits 2.
 */
export function readCli<S extends CliSpec>(spec: S, argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): ParsedCli<S> {
  try {
    const parsed = parseCli(spec, argv, env);
    if (parsed.help) {
      process.stdout.write(`${helpText(spec)}\n`);
      process.exit(0);
    }
    return parsed;
  } catch (e) {
    if (!(e instanceof ToolError)) throw e;
    process.stderr.write(`${toolName(spec)}: ${e.message}\n(${spec.command} --help lists the options)\n`);
    process.exit(e.exitCode);
  }
}
