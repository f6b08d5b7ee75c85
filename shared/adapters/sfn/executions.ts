import { StartExecutionCommand, type SFNClient, type StartExecutionCommandInput } from '@aws-sdk/client-sfn';
import { ConflictError, TaskLaunchError } from '../../errors';

/** Starts executions of one state machine. */
export interface ExecutionStarter {
  /**
   * Starts an execution named `name` with `input` (sent as JSON).
   *
   * @throws ConflictError when an execution of that name exists with another input;
   *   TaskLaunchError for any other refusal (permissions, throttling, a missing state machine).
   */
  start(name: string, input: unknown): Promise<{ executionArn: string; startDate: string }>;
}

/**
 * Step Functions behind ExecutionStarter. StartExecution is idempotent for a name and an
 * identical input (it returns the running execution), which makes a repeated invocation harmless.
 */
export class SfnExecutionStarter implements ExecutionStarter {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  /** The exact StartExecution input (exposed for tests). */
  commandInput(name: string, input: unknown): StartExecutionCommandInput {
    return { stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) };
  }

  async start(name: string, input: unknown): Promise<{ executionArn: string; startDate: string }> {
    let response;
    try {
      response = await this.client.send(new StartExecutionCommand(this.commandInput(name, input)));
    } catch (error) {
      const kind = (error as Error).name;
      if (kind === 'ExecutionAlreadyExists') {
        throw new ConflictError(`an execution named ${name} already exists with another input`, 'wait a second and invoke again (the name carries the time)', { cause: error });
      }
      throw new TaskLaunchError(`Step Functions refused to start ${name}: ${kind}: ${(error as Error).message}`, "check the state machine ARN and the function's IAM role (states:StartExecution)", {
        cause: error,
      });
    }
    if (!response.executionArn) throw new TaskLaunchError(`Step Functions returned no execution ARN for ${name}`, 'look the execution up in the Step Functions console');
    return { executionArn: response.executionArn, startDate: (response.startDate ?? new Date()).toISOString() };
  }
}
