// qlobber ships no types; this is the part the cluster's routing uses. It is the matcher MQEmitter
// itself routes with, so the cluster matches topics against filters exactly as each node does.
declare module 'qlobber' {
  interface QlobberOptions {
    separator?: string;
    wildcard_one?: string;
    wildcard_some?: string;
    match_empty_levels?: boolean;
  }
  /** Filter → a set of values; match returns every value whose filter matches the topic. */
  export class QlobberDedup<V> {
    constructor(options?: QlobberOptions);
    add(filter: string, value: V): this;
    remove(filter: string, value?: V): this;
    match(topic: string): Set<V>;
    clear(): this;
  }
}
