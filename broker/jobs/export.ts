// A job's history and the device data recorded while it ran, as JSON or CSV (RFC 4180).
import { ErrorCode, ProtocolError } from '../../protocol/errors';
import { kindWords, statusWords } from '../../protocol/job-words';
import type { JobsDb } from './schema';
import type { JobRow } from './schema';
import { jobData, jobHistory } from './store';
import { jobView } from './view';

export type ExportFormat = 'json' | 'csv';

export function exportFormat(v: unknown): ExportFormat {
  if (v === undefined || v === 'json') return 'json';
  if (v === 'csv') return 'csv';
  throw new ProtocolError(ErrorCode.BAD_REQUEST, 'format must be csv or json', 'format');
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvRow(fields: (string | number)[]): string {
  return fields.map((f) => csvField(String(f))).join(',') + '\r\n';
}

export async function exportJob(db: JobsDb, row: JobRow, format: ExportFormat): Promise<{ contentType: string; filename: string; body: string }> {
  const job = jobView(row);
  const words = { what: kindWords(job.kind), status: statusWords(job) };
  const history = await jobHistory(db, row.id);
  const data = await jobData(db, row.id);
  if (format === 'json') {
    return { contentType: 'application/json; charset=utf-8', filename: `job-${row.id}.json`, body: JSON.stringify({ job, ...words, history, data }, null, 2) };
  }
  const iso = (at: number): string => new Date(at).toISOString();
  let body = csvRow(['record', 'at', 'time', 'name', 'encoding', 'value']);
  body += csvRow(['job', job.times.queued ?? 0, iso(job.times.queued ?? 0), job.kind, 'json', JSON.stringify(job)]);
  body += csvRow(['status', Math.max(...Object.values(job.times)), iso(Math.max(...Object.values(job.times))), words.what, 'text', words.status]);
  for (const h of history) body += csvRow(['event', h.at, iso(h.at), h.event, 'json', JSON.stringify(h.detail)]);
  for (const d of data) body += csvRow(['data', d.at, iso(d.at), d.stream, d.encoding, d.payload]);
  return { contentType: 'text/csv; charset=utf-8', filename: `job-${row.id}.csv`, body };
}
