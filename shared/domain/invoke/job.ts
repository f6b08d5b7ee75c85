/**
 * How a state machine hands its job to an ECS task: the JSON of the execution's `job` in the
 * container's STRONGBOX_JOB variable (a container override), parsed with the same schema as
 * the function's payload. Pure.
 */
import { InputError } from '../../errors';

/** The variable the RunTask state sets with `States.JsonToString($.job)`. */
export const JOB_VARIABLE = 'STRONGBOX_JOB';

/** Exit codes of the job tasks, as ECS and Step Functions see them (any non-zero fails the state). */
export const JOB_EXIT = { ok: 0, failed: 1, badInput: 2, interrupted: 143 } as const;

/**
 * Reads and parses the job from the environment.
 *
 * @throws InputError when the variable is missing or not JSON; what `parse` throws (InputError
 *   listing every problem, a password included).
 */
export function readJob<T>(env: NodeJS.ProcessEnv, parse: (raw: unknown) => T): T {
  const text = env[JOB_VARIABLE];
  if (!text) throw new InputError(`${JOB_VARIABLE} is not set`, 'the state machine sets it from the execution input ($.job); start the task through `sls invoke`');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(`${JOB_VARIABLE} is not JSON`, 'the state machine sets it with States.JsonToString($.job)');
  }
  return parse(raw);
}
