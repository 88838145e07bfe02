// Runs aedes-persistence's own abstract test suite (node:test) against the broker's memory
// persistence. Started by test/integration/memory-persistence.test.ts in a child process.
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { IndexedMemoryPersistence } from '../../broker/upstream/memory-persistence';

const abstractPersistence = createRequire(import.meta.url)('aedes-persistence/abstract.js') as (o: object) => void;
abstractPersistence({ test, persistence: () => new IndexedMemoryPersistence(), testAsync: true });
