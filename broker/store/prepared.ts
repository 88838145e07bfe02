// Queries on the hot paths (a claim and what it sets off), built and compiled once per database
// and run again with new values. Building a Kysely query (its immutable tree of nodes, then the
// SQL text) cost more than SQLite took to run it, and its garbage more again: together half of
// the broker's busy time in bench:claims (docs/architecture.md, Bindings). The compiled query
// still runs through Kysely, so it works on SQLite and PostgreSQL alike, inside a transaction or
// not; on SQLite the statement cache (statement-cache.ts) finds its prepared statement by the text.
import type { Compilable, CompiledQuery, DialectAdapter, Kysely, QueryResult } from 'kysely';

/** Stands for a value in the query while it is compiled; replaced by the value on each run. */
class Slot {
  constructor(readonly name: string) {}
}

interface Template {
  readonly compiled: CompiledQuery;
  readonly slots: (string | null)[];
}

export type Params = Record<string, unknown>;

/**
 * A query whose shape never changes, only its values. `build` names each value through `p`
 * (`where('id', '=', p.id)`); everything else in it is fixed. A value must stand alone (not in a
 * list: `in` lists vary in length) and the built query must not look at it.
 */
export function prepared<DB, P extends Params, R>(build: (db: Kysely<DB>, p: P) => Compilable<R>): (db: Kysely<DB>, params: P) => Promise<QueryResult<R>> {
  // By dialect adapter: the same for a database and each of its transactions, and the compiled
  // text differs between dialects (placeholders, quoting).
  const templates = new WeakMap<DialectAdapter, Template>();
  const placeholders = new Proxy({} as P, { get: (_t, name) => new Slot(String(name)) });
  const templateFor = (db: Kysely<DB>): Template => {
    const adapter = db.getExecutor().adapter;
    let t = templates.get(adapter);
    if (t === undefined) {
      const compiled = build(db, placeholders).compile();
      const slots = compiled.parameters.map((v) => (v instanceof Slot ? v.name : null));
      templates.set(adapter, (t = { compiled, slots }));
    }
    return t;
  };
  return (db, params) => {
    const { compiled, slots } = templateFor(db);
    const parameters = compiled.parameters.map((v, i) => {
      const name = slots[i];
      if (name == null) return v;
      const value = params[name];
      if (value === undefined) throw new Error(`prepared query: no value for ${name}`);
      return value;
    });
    return db.executeQuery<R>({ query: compiled.query, queryId: compiled.queryId, sql: compiled.sql, parameters });
  };
}

/** The first row, or undefined. */
export async function first<R>(result: Promise<QueryResult<R>>): Promise<R | undefined> {
  return (await result).rows[0];
}

/**
 * `prepared` for a query with a few shapes (which columns it sets, how many values a list holds):
 * one compiled query per shape, found by `keyOf`. The shapes must be few, as code paths are.
 */
export function preparedShapes<DB, S, P extends Params, R>(
  keyOf: (shape: S) => string,
  build: (db: Kysely<DB>, shape: S, p: P) => Compilable<R>,
): (db: Kysely<DB>, shape: S, params: P) => Promise<QueryResult<R>> {
  const byKey = new Map<string, (db: Kysely<DB>, params: P) => Promise<QueryResult<R>>>();
  return (db, shape, params) => {
    const key = keyOf(shape);
    let query = byKey.get(key);
    if (query === undefined) byKey.set(key, (query = prepared((d: Kysely<DB>, p: P) => build(d, shape, p))));
    return query(db, params);
  };
}
