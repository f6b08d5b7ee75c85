import type { DueJob } from '../domain/dispatch';
/** Starts one due job (an asynchronous Lambda invocation, a state machine execution). */
export interface JobStarter {
  start(job: DueJob): Promise<void>;
}
