// One HTTP byte range (RFC 9110, 14.1.2): `bytes=a-b`, `bytes=a-` or `bytes=-n`. A device resumes
// an interrupted fetch with one; a header this does not understand (several ranges, other
// units) is ignored and the whole blob served, as the RFC allows.
import type { ByteRange } from './store';

export type RangeAnswer = { kind: 'all' } | { kind: 'part'; range: ByteRange } | { kind: 'unsatisfiable' };

export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'all' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'all' };
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'part', range: { start: Math.max(0, size - n), end: size - 1 } };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'all' };
  return { kind: 'part', range: { start, end } };
}
