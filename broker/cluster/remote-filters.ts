// Which topic filters the clients of every other node subscribe to (docs/architecture.md, Cluster
// routing), so a node sends a message over Redis only to the nodes that have a subscriber for it.
// Each node numbers its changes; a change is applied only if it is newer than what this node
// holds of that node, and a change that skips a number means one was missed, which asks for a
// fresh snapshot. While a snapshot is read, changes are held back and replayed on top of it.
import { QlobberDedup } from 'qlobber';

/** A node's change as every node receives it (published by the scripts in scripts.ts). */
export type FilterChange =
  | { n: string; s: number; op: 'add' | 'del'; f: string }
  | { n: string; s: number; op: 'reset'; fs: string[] }
  | { n: string; op: 'gone' };

export interface NodeFilters {
  node: string;
  seq: number;
  filters: string[];
}

/** MQEmitter's own matching rules (Aedes' defaults), so both agree on what a filter matches. */
const MQTT_MATCHING = { separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true };

export class RemoteFilters {
  private readonly matcher = new QlobberDedup<string>(MQTT_MATCHING);
  private readonly nodes = new Map<string, { seq: number; filters: Set<string> }>();
  private held: FilterChange[] | null = null;

  constructor(
    private readonly self: string,
    private readonly hooks: {
      /** A change was missed: the caller reads a snapshot. */
      gap(): void;
      /** This node now knows a node's filters up to its change `seq` (see FilterAcks). */
      applied(node: string, seq: number): void;
    },
  ) {}

  /** The other nodes this node knows filters of. */
  peers(): IterableIterator<string> {
    return this.nodes.keys();
  }

  /** The other nodes with a subscriber whose filter matches the topic. */
  nodesFor(topic: string): Set<string> {
    return this.matcher.match(topic);
  }

  filtersOf(node: string): string[] {
    return [...(this.nodes.get(node)?.filters ?? [])];
  }

  receive(change: FilterChange): void {
    if (change.n === this.self) return;
    if (this.held) this.held.push(change);
    else this.apply(change);
  }

  /** Holds changes back until the snapshot being read is applied or abandoned. */
  hold(): void {
    this.held ??= [];
  }

  /** Replaces what is known with a snapshot, then replays the changes that came meanwhile. */
  applySnapshot(snapshot: NodeFilters[]): void {
    const listed = new Set(snapshot.map((s) => s.node));
    for (const node of [...this.nodes.keys()]) if (!listed.has(node)) this.drop(node);
    for (const s of snapshot) if (s.node !== this.self) this.replace(s.node, s.seq, s.filters);
    this.release();
  }

  /** The snapshot could not be read: the held changes apply as they are. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const change of held) this.apply(change);
  }

  private apply(change: FilterChange): void {
    if (change.op === 'gone') return this.drop(change.n);
    const known = this.nodes.get(change.n);
    if (known && change.s <= known.seq) return;
    if (change.op === 'reset') return this.replace(change.n, change.s, change.fs);
    if (!known || change.s !== known.seq + 1) {
      this.hooks.gap();
      return;
    }
    known.seq = change.s;
    this.hooks.applied(change.n, change.s);
    if (change.op === 'add') {
      known.filters.add(change.f);
      this.matcher.add(change.f, change.n);
    } else {
      known.filters.delete(change.f);
      this.matcher.remove(change.f, change.n);
    }
  }

  private replace(node: string, seq: number, filters: string[]): void {
    this.drop(node);
    this.nodes.set(node, { seq, filters: new Set(filters) });
    for (const f of filters) this.matcher.add(f, node);
    this.hooks.applied(node, seq);
  }

  private drop(node: string): void {
    const known = this.nodes.get(node);
    if (!known) return;
    for (const f of known.filters) this.matcher.remove(f, node);
    this.nodes.delete(node);
  }
}

/** The snapshot script's flat answer (node, seq, count, filters... per node) as records. */
export function parseSnapshot(flat: string[]): NodeFilters[] {
  const out: NodeFilters[] = [];
  for (let i = 0; i < flat.length; ) {
    const node = flat[i]!;
    const seq = Number(flat[i + 1]);
    const count = Number(flat[i + 2]);
    out.push({ node, seq, filters: flat.slice(i + 3, i + 3 + count) });
    i += 3 + count;
  }
  return out;
}
