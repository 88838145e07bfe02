// Bare Aedes as a benchmark peer, in its own process like the fleetbind broker, so its memory
// and CPU time can be read alone. `--persistence upstream` is Aedes as shipped (aedes-persistence's
// memory store); `indexed` swaps in fleetbind's retained trie and nothing else.
//   node --import tsx bench/lib/bare-aedes.ts --persistence upstream|indexed
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { defineCli, readCli } from '../../host-tools/cli/args';
import { IndexedMemoryPersistence } from '../../broker/upstream/memory-persistence';
import { aedesInternals } from '../../broker/upstream/aedes';
import { guardRecursion } from '../../broker/upstream/mq-guard';

const { values } = readCli(
  defineCli({
    command: 'node --import tsx bench/lib/bare-aedes.ts',
    usage: ['--persistence upstream|indexed'],
    summary: 'Bare Aedes on an ephemeral port of 127.0.0.1 for the benchmarks\' peer runs; prints {"port":N} once listening.',
    options: {
      persistence: { type: 'string', value: 'KIND', default: 'upstream', help: "upstream: Aedes as shipped; indexed: with fleetbind's retained index" },
    },
  }),
);
if (values.persistence !== 'upstream' && values.persistence !== 'indexed')
  throw new Error(`--persistence must be upstream or indexed, got ${values.persistence}`);
const aedes = await Aedes.createBroker(values.persistence === 'indexed' ? { persistence: new IndexedMemoryPersistence() } : {});
// Without it upstream Aedes overflows its stack on a 10,000-client burst (mcollina/mqemitter#204).
guardRecursion(aedesInternals(aedes).mq);
// The socket options fleetbind's listener has (broker/start/listeners.ts), so latencies compare like for like.
const server = createServer({ noDelay: true }, (socket) => aedes.handle(socket));
server.listen({ port: 0, host: '127.0.0.1', backlog: 8192 }, () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
process.on('SIGTERM', () => process.exit(0));
