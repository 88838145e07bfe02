// The model test of one broker on SQLite, or with `--cluster` of a two-node cluster (runner.ts).
import { clusterArg, modelSuite } from './runner';

modelSuite(clusterArg);
