// Regenerates test/generated/openapi-types.ts (openapi-typescript) from a broker's live
// /api/openapi.json, the types a generated client (openapi-fetch) is checked against.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import openapiTS from 'openapi-typescript';
import { TestBroker } from '../test/helpers/broker';

const out = join(import.meta.dirname, '..', 'test', 'generated', 'openapi-types.ts');
const b = await TestBroker.start();
try {
  const doc = (await b.api('GET', '/api/openapi.json')).body as Parameters<typeof openapiTS>[0];
  writeFileSync(out, await openapiTS(doc));
  console.log(`wrote ${out}`);
} finally {
  await b.stop();
}
