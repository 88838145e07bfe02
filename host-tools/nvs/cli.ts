// npm run nvs -- generate <input.csv> <output.bin> <size>
// Mirrors `nvs_partition_gen.py generate` (format version 2, no encryption). Errors are one line
// on stderr with a non-zero exit, and no output file is left behind.
import { writeFileSync } from 'node:fs';
import { defineCli, readCli } from '../cli/args';
import { readNvsCsv } from './csv';
import { NvsError } from './format';
import { buildNvsImage } from './writer';

const NVS_CLI = defineCli({
  command: 'npm run nvs --',
  usage: ['generate <input.csv> <output.bin> <size>'],
  summary: "Builds an NVS partition image from a CSV, like ESP-IDF's nvs_partition_gen.py generate (format version 2, no encryption).",
  options: {},
  positionals: {
    generate: 'the command (the only one)',
    '<input.csv>': 'key,type,encoding,value rows, as nvs_partition_gen.py reads them',
    '<output.bin>': 'the image to write; nothing is written on an error',
    '<size>': 'the partition size in bytes, decimal or 0x-hex, a multiple of 0x1000, at least 0x3000',
  },
});

export function parseSize(text: string): number {
  const size = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text.slice(2), 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(size)) throw new NvsError(`size "${text}" is not a decimal or 0x-hex number`);
  return size;
}

function main(argv: string[]): number {
  const [command, input, output, size] = readCli(NVS_CLI, argv).positionals as [string, string, string, string];
  if (command !== 'generate') {
    console.error(`nvs: unknown command "${command}" (${NVS_CLI.command} --help lists the commands)`);
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
