// `npm run labels -- ...`: signed machine (claim or walk-up order) or location labels as A4 PDF sheets and one SVG or PNG each.
// See options.ts for the flags. What was written is listed on stdout; a failure is one line on
// stderr and a non-zero exit; everything is rendered before the first file is written, so a
// broker error leaves no partial set behind.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminApi } from '../api/admin-api';
import { ToolError } from '../api/errors';
import { runCli } from '../api/run-cli';
import { fetchLabels, fetchLocationLabels } from './fetch-labels';
import { LABEL_CAPTION, LOCATION_CAPTION, ORDER_CAPTION, labelContent } from './label-content';
import { renderLabelPng } from './label-png';
import { renderLabelSvg } from './label-svg';
import { LABELS_CLI, parseLabelOptions } from './options';
import { helpText } from '../cli/args';
import { suggestedPublicUrl, unreachableFromPhone } from '../cli/public-url';
import { LABELS_PER_PAGE, renderSheetPdf } from './sheet-pdf';

export const SHEET_FILE = 'labels.pdf';

async function main(argv: string[]): Promise<void> {
  const opts = parseLabelOptions(argv);
  if (opts === 'help') {
    console.log(helpText(LABELS_CLI));
    return;
  }
  const api = new AdminApi(opts.connection);
  const labels =
    opts.selection.kind === 'locations'
      ? (await fetchLocationLabels(api, opts.selection.ids)).map((l) => labelContent(l, LOCATION_CAPTION))
      : (await fetchLabels(api, opts.selection)).map((l) =>
          labelContent(l, opts.selection.kind !== 'locations' && opts.selection.purpose === 'order' ? ORDER_CAPTION : LABEL_CAPTION),
        );
  const problem = unreachableFromPhone(labels[0]!.url);
  if (problem && !opts.allowLocal) {
    const origin = new URL(labels[0]!.url).origin;
    throw new ToolError(
      `the labels would point at ${origin}, which a phone cannot open (${problem}). Restart the broker with --public-url set to an address phones reach, such as ${suggestedPublicUrl(Number(new URL(origin).port) || 8080)} (or FLEETBIND_PUBLIC_URL), or pass --allow-local to print them anyway`,
    );
  }
  const files: Array<[string, Buffer | string, string]> = [];
  if (opts.formats.includes('pdf')) {
    const pages = Math.ceil(labels.length / LABELS_PER_PAGE);
    files.push([
      SHEET_FILE,
      await renderSheetPdf(labels, `${labels[0]!.fleet} machine labels`),
      `${pages} A4 page${pages === 1 ? '' : 's'}, ${LABELS_PER_PAGE} labels a page`,
    ]);
  }
  for (const l of labels) {
    if (opts.formats.includes('svg')) files.push([`${l.code}.svg`, renderLabelSvg(l), l.url]);
    if (opts.formats.includes('png')) files.push([`${l.code}.png`, renderLabelPng(l), l.url]);
  }
  try {
    mkdirSync(opts.out, { recursive: true });
    for (const [name, data] of files) writeFileSync(join(opts.out, name), data);
  } catch (e) {
    throw new ToolError(`cannot write labels to ${opts.out}: ${(e as Error).message}`);
  }
  const fleets = [...new Set(labels.map((l) => l.fleet))].join(', ');
  console.log(`${labels.length} label${labels.length === 1 ? '' : 's'} for fleet ${fleets}:`);
  const width = Math.max(...files.map(([name]) => join(opts.out, name).length));
  for (const [name, , note] of files) console.log(`  ${join(opts.out, name).padEnd(width)}  ${note}`);
}

await runCli('labels', main, `(${LABELS_CLI.command} --help lists the options)`);
