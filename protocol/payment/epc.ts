// EPC069-12 "BCD" QR for a SEPA credit transfer: one element per line, in a fixed order, with
// trailing empty elements left off; at most 331 bytes. Version 002 makes the BIC optional within
// the EEA; version 001 requires it.
import { ErrorCode, ProtocolError } from '../errors';

export interface EpcFields {
  version?: '001' | '002';
  bic?: string;
  /** Beneficiary name, at most 70 characters. */
  name: string;
  iban: string;
  /** EUR, 0.01 to 999999999.99. */
  amount?: number;
  /** Purpose code, up to 4 letters (ISO 20022 ExternalPurpose1Code), e.g. CHAR, GDDS. */
  purpose?: string;
  /** Structured creditor reference (ISO 11649 RF…), at most 35 characters. */
  reference?: string;
  /** Unstructured remittance text, at most 140 characters; not with `reference`. */
  text?: string;
  /** Beneficiary-to-originator information, at most 70 characters. */
  info?: string;
}

const bad = (message: string): ProtocolError => new ProtocolError(ErrorCode.BAD_PARAMS, `EPC QR: ${message}`, 'text');
const MAX_BYTES = 331;

function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/** ISO 13616: country, 2 check digits, up to 30 alphanumerics; the whole is 1 mod 97. */
export function validIban(iban: string): boolean {
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of moved) {
    const v = ch >= 'A' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of v) rest = (rest * 10 + Number(d)) % 97;
  }
  return rest === 1;
}

/** "EUR" and the amount with at most 2 decimals and no trailing zeros, as the guidelines' examples. */
function epcAmount(amount: number): string {
  if (!(amount >= 0.01) || amount > 999_999_999.99) throw bad('the amount must be from 0.01 to 999999999.99 EUR');
  return `EUR${String(Math.round(amount * 100) / 100)}`;
}

export function encodeEpc(f: EpcFields): string {
  if (f.reference !== undefined && f.text !== undefined) throw bad('give either a structured reference or a remittance text, not both');
  const lines = [
    'BCD',
    f.version ?? '002',
    '1',
    'SCT',
    f.bic ?? '',
    f.name,
    f.iban.replace(/\s+/g, '').toUpperCase(),
    f.amount === undefined ? '' : epcAmount(f.amount),
    f.purpose ?? '',
    f.reference ?? '',
    f.text ?? '',
    f.info ?? '',
  ];
  while (lines[lines.length - 1] === '') lines.pop();
  const text = lines.join('\n');
  parseEpc(text);
  return text;
}

export function parseEpc(payload: string): string[] {
  if (utf8Length(payload) > MAX_BYTES) throw bad(`it is ${utf8Length(payload)} bytes; at most ${MAX_BYTES} are allowed`);
  const l = payload.split(/\r?\n/);
  if (l.length < 7 || l.length > 12) throw bad(`it has ${l.length} lines; a credit transfer has 7 to 12`);
  const at = (i: number): string => l[i] ?? '';
  if (at(0) !== 'BCD') throw bad('the first line (service tag) must be BCD');
  if (at(1) !== '001' && at(1) !== '002') throw bad(`version must be 001 or 002, got "${at(1)}"`);
  if (!/^[1-8]$/.test(at(2))) throw bad(`the character set must be 1 to 8, got "${at(2)}"`);
  if (at(3) !== 'SCT') throw bad('the identification must be SCT');
  const bic = at(4);
  if (bic === '' ? at(1) === '001' : !/^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/.test(bic))
    throw bad(bic === '' ? 'version 001 requires the BIC' : `"${bic}" is not a BIC (8 or 11 characters)`);
  if (at(5).length < 1 || at(5).length > 70) throw bad('the beneficiary name must be 1 to 70 characters');
  if (!validIban(at(6))) throw bad(`"${at(6)}" is not a valid IBAN (its check digits do not match)`);
  if (at(7) !== '' && !/^EUR(?=.*[1-9])\d{1,9}(\.\d{1,2})?$/.test(at(7))) throw bad(`the amount must be EUR and 0.01 to 999999999.99, got "${at(7)}"`);
  if (!/^[A-Z0-9]{0,4}$/.test(at(8))) throw bad(`the purpose is up to 4 letters or digits, got "${at(8)}"`);
  if (at(9).length > 35) throw bad('the structured reference is at most 35 characters');
  if (at(10).length > 140) throw bad('the remittance text is at most 140 characters');
  if (at(9) !== '' && at(10) !== '') throw bad('a structured reference and a remittance text cannot both be given');
  if (at(11).length > 70) throw bad('the beneficiary-to-originator information is at most 70 characters');
  return l;
}
