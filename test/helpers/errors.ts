// Assertions on the two error shapes clients see: REST `{error:{code,message,field?}}` with an
// HTTP status, and MQTT responses `{id, ok:false, error:{code,message,field?}}`.
import * as assert from 'uvu/assert';

function expectWire(error: any, code: string, field: string | undefined, context: string): void {
  assert.is(error?.code, code, context);
  assert.ok(typeof error.message === 'string' && error.message.length > 0, `${context}: an error names its reason`);
  if (field !== undefined) assert.is(error.field, field, context);
}

export function expectRestError(r: { status: number; body: any }, status: number, code: string, field?: string): void {
  assert.is(r.status, status, JSON.stringify(r.body));
  expectWire(r.body?.error, code, field, JSON.stringify(r.body));
}

export function expectResponseError(res: any, code: string, field?: string): void {
  assert.is(res?.ok, false, JSON.stringify(res));
  expectWire(res.error, code, field, JSON.stringify(res));
}
