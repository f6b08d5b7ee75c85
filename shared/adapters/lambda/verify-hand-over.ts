import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { StrongboxError } from '../../errors';
import type { VerifyCursor } from '../../ports/verify';
import type { VerifyHandOver } from '../../ports/verify';

/** The event that carries a cursor to the next hop. */
export interface VerifyContinuationEvent {
  strongboxVerify: VerifyCursor;
}

/**
 * The checksum function invoking itself asynchronously (InvocationType Event) with the
 * cursor: Lambda queues the event, retries it twice and sends what still fails to the
 * function's on-failure destination (the failures queue and its alarm), as for its S3
 * events. Needs lambda:InvokeFunction on the function itself.
 */
export class LambdaVerifyHandOver implements VerifyHandOver {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionName: string,
  ) {}

  /** The running function's own name (AWS_LAMBDA_FUNCTION_NAME); undefined outside Lambda. */
  static fromEnvironment(env: NodeJS.ProcessEnv, lambda?: LambdaClient): LambdaVerifyHandOver | undefined {
    const name = env.AWS_LAMBDA_FUNCTION_NAME;
    return name ? new LambdaVerifyHandOver(lambda ?? new LambdaClient({}), name) : undefined;
  }

  async continueVerification(cursor: VerifyCursor): Promise<void> {
    const payload: VerifyContinuationEvent = { strongboxVerify: cursor };
    try {
      await this.lambda.send(new InvokeCommand({ FunctionName: this.functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }));
    } catch (error) {
      throw new StrongboxError(
        'VERIFY_HAND_OVER_FAILED',
        `the verification of ${cursor.manifestKey} ran out of time and could not be handed to another invocation of ${this.functionName}: ${error instanceof Error ? error.message : String(error)}`,
        'the event is retried by Lambda; if it keeps failing, grant the checksum function lambda:InvokeFunction on itself (serverless.yml) — the watchdog asks for the verification again meanwhile',
        { cause: error },
      );
    }
  }
}

/** The cursor of a continuation event, or undefined for any other event. */
export function continuationIn(event: unknown): VerifyCursor | undefined {
  const cursor = (event as Partial<VerifyContinuationEvent> | undefined)?.strongboxVerify;
  if (typeof cursor !== 'object' || cursor === null) return undefined;
  const valid =
    typeof cursor.manifestKey === 'string' &&
    Number.isSafeInteger(cursor.object) &&
    cursor.object >= 0 &&
    Number.isSafeInteger(cursor.hop) &&
    (cursor.hash === undefined || (Number.isSafeInteger(cursor.hash.offset) && typeof cursor.hash.state === 'object'));
  return valid ? cursor : undefined;
}
