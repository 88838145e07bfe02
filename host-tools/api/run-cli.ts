// The shell of a host-tool CLI: runs main, turns a ToolError into one line on stderr and its exit
// code, and anything unexpected into a line with the stack so it can be reported.
import { ToolError } from './errors';

export async function runCli(name: string, main: (argv: string[]) => Promise<void>, usage: string): Promise<void> {
  try {
    await main(process.argv.slice(2));
    process.exitCode = 0;
  } catch (e) {
    if (e instanceof ToolError) {
      process.stderr.write(`${name}: ${e.message}\n`);
      if (e.exitCode === 2) process.stderr.write(`${usage}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(`${name}: unexpected failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
}
