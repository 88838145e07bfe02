// The model test of a two-node cluster on PostgreSQL and Redis (runner.ts): the same commands and
// checks as on SQLite, plus a node SIGKILLed while the other runs on and PostgreSQL or Redis cut
// off from both nodes for a while. `npm run test:model -- --cluster --runs N --seed S` for long runs.
import { modelSuite } from './runner';

modelSuite(true);
