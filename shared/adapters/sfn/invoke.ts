/** What the `sls invoke` functions that start a state machine share: their dependencies. */
import type { Catalog } from '../../ports/catalog';
import type { Clock, Log } from '../../ports';
import type { ExecutionStarter } from './executions';

/** The catalog to plan from, and the state machine to start. */
export interface InvokeDeps {
  catalog: Catalog;
  clock: Clock;
  log: Log;
  starter: ExecutionStarter;
}
