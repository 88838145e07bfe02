// `npm run fleet -- <command> [args] [options]`: fleet administration over the broker's admin REST
// API. Results go to stdout as a table (or JSON with --json); a failure is one line on stderr and
// a non-zero exit (2 for a usage mistake).
import { parseArgs } from 'node:util';
import { AdminApi } from '../api/admin-api';
import { CONNECTION_USAGE, connectionOptions, resolveConnection } from '../api/connection';
import { usageError } from '../api/errors';
import { runCli } from '../api/run-cli';
import { COMMANDS, type Command, OPTIONS } from './commands';

/** "--name NAME" from an option's usage line "--name NAME   what it is". */
const flagOf = (usage: string): string => usage.split(/\s{2,}/)[0]!;

function synopsis(c: Command): string {
  const opts = Object.entries(c.options).map(([name, usage]) => (c.required?.includes(name) ? flagOf(usage) : `[${flagOf(usage)}]`));
  return [c.name, ...c.args.map((a) => `<${a}>`), ...opts].join(' ');
}

const USAGE = [
  'usage: npm run fleet -- <command> [args] [--json] [--broker-api URL] [--admin-token T]',
  '',
  ...COMMANDS.map((c) => `  ${synopsis(c).padEnd(64)} ${c.summary}`),
  '',
  '  --json             print the result as JSON',
  `  ${CONNECTION_USAGE}`,
  '  npm run fleet -- <command> --help   shows the options of one command',
].join('\n');

function commandHelp(c: Command): string {
  return [`usage: npm run fleet -- ${synopsis(c)} [--json]`, `  ${c.summary}`, ...Object.values(c.options).map((o) => `  ${o}`)].join('\n');
}

/** The command named by the leading positionals: two words ("agent add") before one. */
function findCommand(positionals: string[]): { command: Command; args: string[] } {
  const [first, second] = positionals;
  if (first === undefined) throw usageError('no command given');
  const two = COMMANDS.find((c) => c.name === `${first} ${second}`);
  if (two) return { command: two, args: positionals.slice(2) };
  const one = COMMANDS.find((c) => c.name === first);
  if (one) return { command: one, args: positionals.slice(1) };
  const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name);
  if (group.length > 0) throw usageError(second === undefined ? `${first} needs a subcommand: ${group.join(', ')}` : `unknown command "${first} ${second}"; did you mean ${group.join(' or ')}?`);
  throw usageError(`unknown command "${first}"`);
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      tokens: true,
      options: { ...OPTIONS, ...connectionOptions, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    throw usageError((e as Error).message);
  }
  const { values, positionals, tokens } = parsed;
  if (positionals.length === 0 && (values.help || argv.length === 0)) {
    console.log(USAGE);
    return;
  }
  const { command, args } = findCommand(positionals);
  if (values.help) {
    console.log(commandHelp(command));
    return;
  }
  for (const t of tokens) {
    if (t.kind === 'option' && t.name in OPTIONS && !(t.name in command.options)) throw usageError(`${t.rawName} is not an option of "${command.name}"`);
  }
  if (args.length !== command.args.length) {
    const want = command.args.length === 0 ? 'no arguments' : command.args.map((a) => `<${a}>`).join(' ');
    throw usageError(`"${command.name}" takes ${want}, got ${args.length === 0 ? 'none' : args.map((a) => JSON.stringify(a)).join(' ')}`);
  }
  for (const name of command.required ?? []) {
    const v = values[name as keyof typeof values];
    if (typeof v !== 'string' || v.trim() === '') throw usageError(`"${command.name}" needs ${command.options[name]!.replace(/\s{2,}/, ' (')})`);
  }
  const api = new AdminApi(resolveConnection(values));
  const out = await command.run(api, { args, values });
  console.log(values.json ? JSON.stringify(out.json, null, 2) : out.text);
}

await runCli('fleet', main, 'usage: npm run fleet -- <command> ...   (npm run fleet -- --help lists the commands)');
