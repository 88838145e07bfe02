// EMVCo merchant-presented QR (EMV QRCPS MPM), the format behind PIX, UPI, PayNow, PromptPay and
// others: ID (2 digits), length (2 digits), value, nested for templates, ending in tag 63 with a
// CRC-16/CCITT-FALSE over everything before its value. Values are in the Alphanumeric Special set
// (printable ASCII), so lengths count characters and the CRC covers their bytes.
import { ErrorCode, ProtocolError } from '../errors';
import { crc16Hex } from './crc16';

export interface EmvcoFields {
  /** Merchant account template ID, "26" to "51" (PIX uses 26). */
  accountTag?: string;
  /** Globally unique identifier of the scheme in the account template, e.g. "br.gov.bcb.pix". */
  gui: string;
  /** The merchant's key or account in that scheme (sub-tag 01). */
  account: string;
  /** Merchant category code, 4 digits ("0000" when none applies). */
  mcc?: string;
  /** ISO 4217 numeric currency, e.g. "986" (BRL), "356" (INR), "702" (SGD). */
  currency: string;
  amount?: number;
  /** ISO 3166-1 alpha-2. */
  country: string;
  merchantName: string;
  merchantCity: string;
  /** Reference label (tag 62, sub-tag 05), e.g. an order number; PIX uses "***" for none. */
  reference?: string;
}

const bad = (message: string): ProtocolError => new ProtocolError(ErrorCode.BAD_PARAMS, `EMVCo QR: ${message}`, 'text');
const ANS = /^[\x20-\x7e]*$/;

function tlv(id: string, value: string): string {
  if (!ANS.test(value)) throw bad(`tag ${id} may hold only printable ASCII`);
  if (value.length < 1 || value.length > 99) throw bad(`tag ${id} must be 1 to 99 characters, got ${value.length}`);
  return `${id}${value.length < 10 ? '0' : ''}${value.length}${value}`;
}

/** The amount as tag 54 carries it: digits with an optional "." and at most 2 decimals. */
export function emvcoAmount(amount: number): string {
  if (!(amount > 0) || amount >= 1e10) throw bad('the amount must be greater than 0 and below 10,000,000,000');
  const text = (Math.round(amount * 100) / 100).toFixed(2);
  return text.endsWith('.00') ? text.slice(0, -3) : text;
}

export function encodeEmvco(f: EmvcoFields): string {
  const accountTag = f.accountTag ?? '26';
  if (!/^(2[6-9]|[34]\d|5[01])$/.test(accountTag)) throw bad('the merchant account template ID must be 26 to 51');
  let out = tlv('00', '01');
  if (f.amount !== undefined) out += tlv('01', '12');
  out += tlv(accountTag, tlv('00', f.gui) + tlv('01', f.account));
  out += tlv('52', f.mcc ?? '0000');
  out += tlv('53', f.currency);
  if (f.amount !== undefined) out += tlv('54', emvcoAmount(f.amount));
  out += tlv('58', f.country);
  out += tlv('59', f.merchantName);
  out += tlv('60', f.merchantCity);
  if (f.reference !== undefined) out += tlv('62', tlv('05', f.reference));
  out += '6304';
  const text = out + crc16Hex(out);
  parseEmvco(text);
  return text;
}

/** Splits one level of TLV data objects; throws on a truncated or malformed one. */
export function emvcoObjects(text: string, where = 'the payload'): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    const head = text.slice(i, i + 4);
    if (!/^\d{4}$/.test(head)) throw bad(`${where} has a malformed data object at character ${i} ("${head}")`);
    const id = head.slice(0, 2);
    const len = Number(head.slice(2));
    if (i + 4 + len > text.length) throw bad(`tag ${id} in ${where} says ${len} characters but only ${text.length - i - 4} follow`);
    if (out.has(id)) throw bad(`tag ${id} appears twice in ${where}`);
    out.set(id, text.slice(i + 4, i + 4 + len));
    i += 4 + len;
  }
  return out;
}

/** Checks a payload against the MPM rules fleetbind relies on; returns its top-level objects. */
export function parseEmvco(text: string): Map<string, string> {
  if (!ANS.test(text)) throw bad('only printable ASCII is allowed');
  if (!text.startsWith('000201')) throw bad('it must start with the payload format indicator 000201');
  const objects = emvcoObjects(text);
  const crc = objects.get('63');
  if (crc === undefined || !text.endsWith(`6304${crc}`) || crc.length !== 4) throw bad('it must end with the CRC, tag 63, 4 hex digits');
  const expected = crc16Hex(text.slice(0, -4));
  if (crc.toUpperCase() !== expected) throw bad(`the CRC is ${crc}, but the payload's CRC-16/CCITT is ${expected}`);
  const accounts = [...objects.keys()].filter((id) => Number(id) >= 2 && Number(id) <= 51);
  if (accounts.length === 0) throw bad('it needs merchant account information (tags 02 to 51)');
  for (const id of accounts.filter((a) => Number(a) >= 26)) {
    const sub = emvcoObjects(objects.get(id)!, `tag ${id}`);
    if (!sub.has('00')) throw bad(`the merchant account template ${id} needs its globally unique identifier (sub-tag 00)`);
  }
  const need: Array<[string, string, RegExp]> = [
    ['52', 'merchant category code', /^\d{4}$/],
    ['53', 'transaction currency (ISO 4217 numeric)', /^\d{3}$/],
    ['58', 'country code (ISO 3166-1 alpha-2)', /^[A-Z]{2}$/],
    ['59', 'merchant name (1 to 25 characters)', /^.{1,25}$/],
    ['60', 'merchant city (1 to 15 characters)', /^.{1,15}$/],
  ];
  for (const [id, what, pattern] of need) {
    const v = objects.get(id);
    if (v === undefined || !pattern.test(v)) throw bad(`tag ${id}, the ${what}, is ${v === undefined ? 'missing' : `not valid ("${v}")`}`);
  }
  const amount = objects.get('54');
  if (amount !== undefined && !/^(?=.*[1-9])\d{1,10}(\.\d{0,2})?$/.test(amount)) throw bad(`tag 54, the amount, is not valid ("${amount}")`);
  const poi = objects.get('01');
  if (poi !== undefined && poi !== '11' && poi !== '12') throw bad(`tag 01, the point of initiation, must be 11 or 12, got "${poi}"`);
  const extra = objects.get('62');
  if (extra !== undefined) emvcoObjects(extra, 'tag 62');
  return objects;
}
