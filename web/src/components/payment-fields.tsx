// The fields of the chosen payment template (protocol/payment/): a payment link, an EMVCo
// merchant QR or a SEPA transfer, or, outside production, the test placeholder no wallet reads.
// Encodes with the same protocol code the broker and the device validate with.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { encodeEmvco } from '../../../protocol/payment/emvco';
import { encodeEpc } from '../../../protocol/payment/epc';
import { PAYMENT_TEMPLATES, PAYMENT_TEMPLATE_NAMES, type PaymentTemplate } from '../../../protocol/payment/templates';
import type { PaymentSettings } from '../../../protocol/rest';
import { authed } from '../lib/session';
import { Field } from './ui';

export type PaymentFormat = PaymentTemplate | 'placeholder';

export function usePaymentSettings(): PaymentSettings | null {
  const [settings, setSettings] = useState<PaymentSettings | null>(null);
  useEffect(() => {
    authed<PaymentSettings>('GET', '/api/payment-settings').then(setSettings, () => setSettings({ template: null, production: true }));
  }, []);
  return settings;
}

export function defaultFormat(s: PaymentSettings): PaymentFormat {
  return s.template ?? (s.production ? 'link' : 'placeholder');
}

export type PaymentValues = Record<string, string>;

export interface Common {
  amount: number;
  currency: string;
  reference: string;
}

/** The QR text for the chosen format; throws a ProtocolError naming the field that is wrong. */
export function paymentText(format: PaymentFormat, v: PaymentValues, c: Common): string {
  switch (format) {
    case 'link':
      return (v.link ?? '').trim();
    case 'emvco':
      return encodeEmvco({
        gui: (v.gui ?? '').trim(),
        account: (v.account ?? '').trim(),
        mcc: (v.mcc ?? '').trim() || '0000',
        currency: (v.currencyNumeric ?? '').trim(),
        amount: c.amount,
        country: (v.country ?? '').trim().toUpperCase(),
        merchantName: (v.merchantName ?? '').trim(),
        merchantCity: (v.merchantCity ?? '').trim(),
        ...(c.reference ? { reference: c.reference.slice(0, 25) } : {}),
      });
    case 'epc':
      return encodeEpc({
        name: (v.beneficiary ?? '').trim(),
        iban: (v.iban ?? '').trim(),
        ...((v.bic ?? '').trim() ? { bic: (v.bic ?? '').trim().toUpperCase() } : {}),
        amount: c.amount,
        ...(c.reference ? { text: c.reference } : {}),
      });
    case 'placeholder':
      return `fleetbind:pay?${new URLSearchParams({ amount: String(c.amount), currency: c.currency, ref: c.reference }).toString()}`;
  }
}

const FIELDS: Record<PaymentFormat, Array<{ key: string; label: string; hint?: string }>> = {
  link: [{ key: 'link', label: 'Payment link', hint: 'The https:// address the customer’s phone opens to pay, from your payment provider.' }],
  emvco: [
    { key: 'gui', label: 'Scheme identifier', hint: 'For example br.gov.bcb.pix' },
    { key: 'account', label: 'Merchant key or account' },
    { key: 'merchantName', label: 'Merchant name', hint: 'At most 25 characters.' },
    { key: 'merchantCity', label: 'Merchant city', hint: 'At most 15 characters.' },
    { key: 'country', label: 'Country code', hint: 'Two letters, for example BR.' },
    { key: 'currencyNumeric', label: 'Currency number', hint: 'ISO 4217 numeric, for example 986 for BRL.' },
    { key: 'mcc', label: 'Merchant category code', hint: 'Four digits; 0000 when none applies.' },
  ],
  epc: [
    { key: 'beneficiary', label: 'Beneficiary name' },
    { key: 'iban', label: 'IBAN' },
    { key: 'bic', label: 'BIC (optional)' },
  ],
  placeholder: [],
};

export function PaymentFields(props: {
  settings: PaymentSettings;
  format: PaymentFormat;
  setFormat(f: PaymentFormat): void;
  values: PaymentValues;
  setValue(key: string, value: string): void;
}): JSX.Element {
  const formats: PaymentFormat[] = [...PAYMENT_TEMPLATES, ...(props.settings.production ? [] : ['placeholder' as const])];
  return (
    <>
      <fieldset class="stack" data-testid="payment-format">
        <legend>Payment format</legend>
        {formats.map((f) => (
          <label key={f} class="choice">
            <input type="radio" name="payment-format" value={f} checked={props.format === f} onChange={() => props.setFormat(f)} />{' '}
            {f === 'placeholder' ? 'Test placeholder (no wallet or bank app can read it)' : PAYMENT_TEMPLATE_NAMES[f]}
            {f === props.settings.template && ' – this fleet’s format'}
          </label>
        ))}
      </fieldset>
      {FIELDS[props.format].map((f) => (
        <Field key={f.key} id={`pay-${f.key}`} label={f.label} {...(f.hint ? { hint: f.hint } : {})}>
          <input
            id={`pay-${f.key}`}
            required={f.key !== 'bic' && f.key !== 'mcc'}
            value={props.values[f.key] ?? ''}
            onInput={(e) => props.setValue(f.key, e.currentTarget.value)}
          />
        </Field>
      ))}
    </>
  );
}
