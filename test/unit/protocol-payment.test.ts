// Payment payload templates (protocol/payment/) against published examples: the CRC-16/CCITT-FALSE
// check value, the Banco Central do Brasil's static PIX BR Code example (EMVCo MPM) with its CRC
// 1D3D, and the example of the EPC069-12 guidelines (Red Cross of Belgium). Each validator refuses
// what breaks its specification, naming what.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ProtocolError } from '../../protocol/errors';
import { parseJobParams } from '../../protocol/jobs';
import { crc16Hex } from '../../protocol/payment/crc16';
import { encodeEmvco, parseEmvco } from '../../protocol/payment/emvco';
import { encodeEpc, parseEpc, validIban } from '../../protocol/payment/epc';
import { checkPaymentText } from '../../protocol/payment/templates';

const t = suite('payment templates');

/** Manual de Padrões para Iniciação do Pix (BCB), static QR example. */
const PIX_EXAMPLE = '00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D';

/** EPC069-12 v2.1, the guidelines' example (version 001, BIC given). */
const EPC_EXAMPLE = [
  'BCD',
  '001',
  '1',
  'SCT',
  'BPOTBEB1',
  'Red Cross of Belgium',
  'BE72000000001616',
  'EUR1',
  'CHAR',
  '',
  'Urgency fund',
  'Sample EPC QR code',
].join('\n');

const refused = (fn: () => unknown, message: RegExp): void => {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ProtocolError);
    assert.is((e as ProtocolError).code, 'BAD_PARAMS');
    assert.match((e as ProtocolError).message, message);
    return;
  }
  assert.unreachable(`accepted; expected ${message}`);
};

t('CRC-16/CCITT-FALSE has its check value', () => {
  assert.is(crc16Hex('123456789'), '29B1');
});

t('the published PIX example validates, and the encoder produces it byte for byte', () => {
  const objects = parseEmvco(PIX_EXAMPLE);
  assert.is(objects.get('63'), '1D3D');
  assert.is(objects.get('59'), 'Fulano de Tal');
  const encoded = encodeEmvco({
    gui: 'br.gov.bcb.pix',
    account: '123e4567-e12b-12d1-a456-426655440000',
    mcc: '0000',
    currency: '986',
    country: 'BR',
    merchantName: 'Fulano de Tal',
    merchantCity: 'BRASILIA',
    reference: '***',
  });
  assert.is(encoded, PIX_EXAMPLE);
});

t('an EMVCo payload with an amount is dynamic (01 = 12) and carries tag 54', () => {
  const text = encodeEmvco({
    gui: 'br.gov.bcb.pix',
    account: 'shop@example.com',
    currency: '986',
    amount: 12.5,
    country: 'BR',
    merchantName: 'Shop',
    merchantCity: 'SAO PAULO',
    reference: 'ORDER17',
  });
  const o = parseEmvco(text);
  assert.is(o.get('01'), '12');
  assert.is(o.get('54'), '12.50');
  assert.is(o.get('63'), crc16Hex(text.slice(0, -4)));
});

t('EMVCo payloads that break the specification are refused, naming why', () => {
  refused(() => parseEmvco(PIX_EXAMPLE.slice(0, -4) + '1D3E'), /the CRC is 1D3E, but the payload's CRC-16\/CCITT is 1D3D/);
  refused(() => parseEmvco(PIX_EXAMPLE.replace('Fulano', 'Fulana')), /CRC/);
  refused(() => parseEmvco('fleetbind:pay?amount=1'), /payload format indicator 000201/);
  const noCity = '000201' + '26180014br.gov.bcb.pix' + '52040000' + '5303986' + '5802BR' + '5904Shop' + '6304';
  refused(() => parseEmvco(noCity + crc16Hex(noCity)), /tag 60, the merchant city/);
  const truncated = '0002012699';
  refused(() => parseEmvco(truncated), /says 99 characters/);
  refused(
    () => encodeEmvco({ gui: 'x', account: 'y', currency: '986', country: 'BR', merchantName: 'A name longer than 25 chars', merchantCity: 'X' }),
    /tag 59/,
  );
});

t('the EPC069-12 example validates, and the encoder produces it line for line', () => {
  assert.ok(validIban('BE72000000001616'));
  assert.is(parseEpc(EPC_EXAMPLE).length, 12);
  const encoded = encodeEpc({
    version: '001',
    bic: 'BPOTBEB1',
    name: 'Red Cross of Belgium',
    iban: 'BE72 0000 0000 1616',
    amount: 1,
    purpose: 'CHAR',
    text: 'Urgency fund',
    info: 'Sample EPC QR code',
  });
  assert.is(encoded, EPC_EXAMPLE);
});

t('EPC payloads that break the guidelines are refused, naming why', () => {
  refused(() => parseEpc(EPC_EXAMPLE.replace('BE72000000001616', 'BE72000000001617')), /not a valid IBAN/);
  refused(() => parseEpc(EPC_EXAMPLE.replace('\nBPOTBEB1\n', '\n\n')), /version 001 requires the BIC/);
  refused(() => parseEpc(EPC_EXAMPLE.replace('EUR1', 'USD1')), /the amount must be EUR/);
  refused(
    () => encodeEpc({ name: 'X', iban: 'BE72000000001616', reference: 'RF18539007547034', text: 'both' }),
    /either a structured reference or a remittance text/,
  );
  refused(() => encodeEpc({ name: 'X'.repeat(71), iban: 'BE72000000001616' }), /1 to 70 characters/);
  // Version 002 lets the BIC be left out, and trailing empty elements are left off.
  assert.is(encodeEpc({ name: 'Shop', iban: 'BE72000000001616', amount: 12.3 }), 'BCD\n002\n1\nSCT\n\nShop\nBE72000000001616\nEUR12.3');
});

t('a payment link is an https URL', () => {
  checkPaymentText('link', 'https://pay.example.com/o/17?amount=12.50');
  refused(() => checkPaymentText('link', 'fleetbind:pay?amount=1'), /https:\/\/ URL/);
  refused(() => checkPaymentText('link', 'http://pay.example.com/'), /https:\/\/ URL/);
});

t('qr.show with a template validates its text with the same rules, on broker, firmware and web', () => {
  assert.is(parseJobParams('qr.show', { text: PIX_EXAMPLE, caption: 'Order 17', template: 'emvco' }).template, 'emvco');
  refused(() => parseJobParams('qr.show', { text: PIX_EXAMPLE.slice(0, -1) + 'E', caption: 'x', template: 'emvco' }), /CRC/);
  refused(() => parseJobParams('qr.show', { text: 'x', caption: 'x', template: 'swift' }), /template must be one of: emvco, epc, link/);
});

t.run();
