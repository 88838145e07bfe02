// The parts of the job engine that its steps share (docs/architecture.md, Jobs: who does what),
// built once by JobEngine.
import type { DeviceCmd } from './device-cmd';
import type { Dispatch } from './dispatch';
import type { Endings } from './endings';
import type { JobCore } from './job-core';
import type { OpenJobs } from './open-jobs';
import type { Snapshots } from './snapshot';

export interface EngineParts {
  core: JobCore;
  open: OpenJobs;
  snapshot: Snapshots;
  cmd: DeviceCmd;
  endings: Endings;
  dispatch: Dispatch;
}
