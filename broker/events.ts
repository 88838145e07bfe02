// What the broker's parts tell each other, and whose connections a kick closes. A leaf: it imports
// only protocol and store types, so any part can name these without importing the Context.
import type { EndedJobView, QueuedJobView, Status } from '../protocol/messages';
import type { JobState } from '../protocol/jobs';
import type { OtaReport } from '../protocol/ota';
import type { BindingChange } from './store/bindings';
import type { DeviceProfile } from './store/devices';

export interface BrokerEvents {
  /** A committed binding change, after the in-memory map was updated. */
  binding: [BindingChange];
  /**
   * A device said hello and was sent its config: it is ready for commands. With the profile the
   * hello recorded, or null when it recorded none (a malformed hello).
   */
  hello: [string, DeviceProfile | null];
  ack: [string, Buffer];
  /** A device's hello reported the outcome of its last update (docs/architecture.md, Over-the-air updates). */
  ota: [string, OtaReport];
  evt: [string, string, Buffer];
  presence: [string, Status];
  /** A job that ran on the device ended (done, failed, cancelled, …). */
  jobEnded: [string, JobState];
  /** A device's queue changed: every unfinished job (all agents') and those that just ended. */
  queue: [{ device: string; at: number; jobs: QueuedJobView[]; ended: EndedJobView[] }];
  /** A job reached a final state: device, agent, job, the pool it came through (a pool lease may end with it). */
  jobFinal: [string, string, string, string | null];
}

/**
 * Whose connections an act closes: a deleted or kicked device, an agent, or every connection that
 * authenticated with a credential that died (`id` is its key, see live-credentials.ts).
 */
export interface KickTarget {
  kind: 'device' | 'agent' | 'credential';
  id: string;
}
