// npm run nvs -- generate <input.csv> <output.bin> <size>
// Mirrors `nvs_partition_gen.py generate` (format version 2, no encryption). Errors are one line
// on stderr with a non-zero exit, and no output file is left behind.
import { writeFileSync } from 'node:fs';
import { readNvsCsv } from './csv';
import { NvsError } from './format';
import { buildNvsImage } from './writer';

const USAGE = 'usage: npm run nvs -- generate <input.csv> <output.bin> <size>   (size in bytes, decimal or 0x-hex, a multiple of 0x1000, at least 0x3000)';

export function parseSize(text: string): number {
  const size = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text.slice(2), 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(size)) throw new NvsError(`size "${text}" is not a decimal or 0x-hex number`);
  return size;
}

function main(argv: string[]): number {
  const [command, input, output, size, ...extra] = argv;
  if (command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (command !== 'generate' || !input || !output || !size || extra.length > 0) {
    console.error(`nvs: ${command && command !== 'generate' ? `unknown command "${command}"; ` : ''}${USAGE}`);
    return 2;
  }
  const records = readNvsCsv(input);
  const image = buildNvsImage(records, parseSize(size));
  writeFileSync(output, image);
  const entries = records.filter((r) => r.kind === 'entry').length;
  console.log(`created ${output}: ${image.length} bytes, ${entries} entries`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  console.error(`nvs: ${e instanceof NvsError ? e.message : `internal error: ${(e as Error).stack ?? String(e)}`}`);
  process.exitCode = 1;
}
