// `npm run fleet -- <command> [args] [options]`: fleet administration over the broker's admin REST
// API. Results go to stdout as a table (or JSON with --json); a failure is one line on stderr and
// a non-zero exit (2 for a usage mistake).
import { AdminApi } from '../api/admin-api';
import { CONNECTION_OPTIONS, DEFAULT_BROKER_API, brokerApiUrl, resolveConnection } from '../api/connection';
import { usageError } from '../api/errors';
import { runCli } from '../api/run-cli';
import { defineCli, helpText, parseCli } from '../cli/args';
import { COMMANDS, type Command, OPTIONS } from './commands';

/** "--name NAME" from an option's usage line "--name NAME   what it is". */
const flagOf = (usage: string): string => usage.split(/\s{2,}/)[0]!;

function synopsis(c: Command): string {
  const opts = Object.entries(c.options).map(([name, usage]) => (c.required?.includes(name) ? flagOf(usage) : `[${flagOf(usage)}]`));
  return [c.name, ...c.args.map((a) => `<${a}>`), ...opts].join(' ');
}

const FLEET_CLI = defineCli({
  command: 'npm run fleet --',
  usage: ['<command> [args] [options]', '<command> --help'],
  summary: "Fleet administration over the broker's admin API. Results go to stdout as a table, or JSON with --json.",
  options: { ...OPTIONS, ...CONNECTION_OPTIONS, json: { type: 'boolean', help: 'print the result as JSON' } },
  freePositionals: true,
  notes: [
    'commands:',
    ...COMMANDS.map((c) => `  ${synopsis(c).padEnd(64)} ${c.summary}`),
    '',
    'npm run fleet -- <command> --help shows the options of one command.',
  ],
});

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
  if (group.length > 0)
    throw usageError(
      second === undefined ? `${first} needs a subcommand: ${group.join(', ')}` : `unknown command "${first} ${second}"; did you mean ${group.join(' or ')}?`,
    );
  throw usageError(`unknown command "${first}"`);
}

/** Runs a follower until Ctrl-C (or SIGTERM), which ends it cleanly with exit 0. */
async function follow(fn: NonNullable<Command['follow']>, api: AdminApi, inv: Parameters<Command['run']>[1], json: boolean): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await fn(api, inv, (o, text) => console.log(json ? JSON.stringify(o) : text), stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals, help, given } = parseCli(FLEET_CLI, argv);
  if (positionals.length === 0 && (help || argv.length === 0)) {
    console.log(helpText(FLEET_CLI));
    return;
  }
  const { command, args } = findCommand(positionals);
  if (help) {
    console.log(commandHelp(command));
    return;
  }
  for (const t of given) {
    if (t.name in OPTIONS && !(t.name in command.options)) throw usageError(`${t.rawName} is not an option of "${command.name}"`);
  }
  if (args.length !== command.args.length) {
    const want = command.args.length === 0 ? 'no arguments' : command.args.map((a) => `<${a}>`).join(' ');
    throw usageError(`"${command.name}" takes ${want}, got ${args.length === 0 ? 'none' : args.map((a) => JSON.stringify(a)).join(' ')}`);
  }
  for (const name of command.required ?? []) {
    const v = values[name as keyof typeof values];
    if (typeof v !== 'string' || v.trim() === '') throw usageError(`"${command.name}" needs ${command.options[name]!.replace(/\s{2,}/, ' (')})`);
  }
  const api = new AdminApi(command.anonymous ? { baseUrl: brokerApiUrl(values['broker-api'] ?? DEFAULT_BROKER_API), token: '' } : resolveConnection(values));
  if (values.follow === true) {
    if (!command.follow) throw usageError(`"${command.name}" cannot --follow`);
    await follow(command.follow.bind(command), api, { args, values }, values.json === true);
    return;
  }
  const out = await command.run(api, { args, values });
  console.log(values.json ? JSON.stringify(out.json, null, 2) : out.text);
}

await runCli('fleet', main, '(npm run fleet -- --help lists the commands)');
