// Splits CSV text into rows the way ESP-IDF's generator sees them: Python's csv module (excel
// dialect) over the file's lines, after dropping every physical line that starts with '#'.
// Quoted fields may span lines and use "" for a quote. Each row keeps the line it starts on.
import { NvsError } from './format';

export interface CsvRow {
  line: number;
  fields: string[];
}

export function splitCsvRows(text: string): CsvRow[] {
  const lines = text
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((body, i) => ({ line: i + 1, body }));
  if (lines.at(-1)?.body === '') lines.pop();
  const kept = lines.filter((l) => !l.body.startsWith('#'));

  const rows: CsvRow[] = [];
  let i = 0;
  while (i < kept.length) {
    const start = kept[i]!.line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let col = 0;
    let body = kept[i]!.body;
    for (;;) {
      if (col === body.length) {
        if (quoted) {
          i++;
          if (i === kept.length) throw new NvsError(`line ${start}: quoted field is never closed`);
          field += '\n';
          body = kept[i]!.body;
          col = 0;
          continue;
        }
        fields.push(field);
        i++;
        break;
      }
      const c = body[col]!;
      if (quoted) {
        if (c === '"' && body[col + 1] === '"') {
          field += '"';
          col += 2;
        } else if (c === '"') {
          quoted = false;
          col++;
          if (col < body.length && body[col] !== ',') {
            throw new NvsError(`line ${kept[i]!.line}: unexpected text after a closing quote (a quote inside a quoted field is written "")`);
          }
        } else {
          field += c;
          col++;
        }
      } else if (c === ',') {
        fields.push(field);
        field = '';
        col++;
      } else if (c === '"' && field === '') {
        quoted = true;
        col++;
      } else {
        field += c;
        col++;
      }
    }
    // A blank line is no row, as in Python's csv.DictReader.
    const blank = start === kept[i - 1]!.line && kept[i - 1]!.body === '';
    if (!blank) rows.push({ line: start, fields });
  }
  return rows;
}
