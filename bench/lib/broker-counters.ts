// Counters a benchmark reads from a fleetbind broker's /metrics before and after a burst, outside
// its timing: what a job or claim costs in SQL statements and in messages delivered.
import type { BrokerProcess } from '../../test/helpers/broker-process';

export interface BrokerCounters {
  /** SQL statements run on the SQLite registry. */
  sql: number;
  /** Messages delivered to clients. */
  messagesOut: number;
  /** Heap compactions after connect storms; NaN from a broker that has none (an older checkout). */
  compactions: number;
  /** Jobs that reached a final state, whichever it was. */
  jobsFinished: number;
}

export async function brokerCounters(bp: BrokerProcess): Promise<BrokerCounters> {
  const text = await (await fetch(`${bp.httpUrl}/metrics`)).text();
  const counter = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    sql: counter('fleetbind_sql_statements_total'),
    messagesOut: counter('fleetbind_messages_out_total'),
    compactions: counter('fleetbind_heap_compactions_total'),
    jobsFinished: [...text.matchAll(/^fleetbind_jobs_finished_total\{[^}]*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0),
  };
}
