// What a benchmark reads about another process from /proc: its CPU time, which a loaded machine
// does not inflate the way it inflates wall-clock time; and the clock of that process's V8 CPU
// profile, for the spans a benchmark writes beside it.
import { readFileSync } from 'node:fs';

/** Now on the monotonic clock in µs: the clock of a V8 CPU profile's timestamps, for a profile's spans. */
export const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Linux reports utime and stime in clock ticks; USER_HZ is 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/** User plus system CPU time the process has used so far, in ms; null once it has exited. */
export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** A process's resident memory, or null when it has exited (no status file, or a zombie without VmRSS). */
export function rssOf(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Broker flags that lift the agent request rate limits: a benchmark measures throughput, not the limiter. */
export const UNLIMITED_REQUESTS = [
  '--request-rate',
  '1000000',
  '--request-burst',
  '1000000',
  '--agent-request-rate',
  '1000000',
  '--agent-request-burst',
  '1000000',
];
