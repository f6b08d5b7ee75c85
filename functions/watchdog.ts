import { SNSClient } from '@aws-sdk/client-sns';
import { SnsReverifier } from '../shared/adapters/sns/reverify';
import { DEFAULT_VERIFY_POLICY, type VerifyPolicy } from '../shared/domain/unverified';
import { awsDeps } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';
import { failStaleBackups, settleUnverified } from '../shared/usecases/watchdog';

type WatchdogDeps = Parameters<typeof settleUnverified>[0];

/**
 * Every 15 minutes: RUNNING backups whose task stopped heart-beating become FAILED (+ alert);
 * UPLOADED backups not VERIFIED in time are verified again, or FAILED (+ alert) when their
 * objects are missing or the requests were in vain.
 */
export function watchdogHandler(deps: WatchdogDeps, staleAfterMs: number, policy: VerifyPolicy = DEFAULT_VERIFY_POLICY) {
  return async (): Promise<{ failed: string[]; unverified: string[]; reverified: string[] }> => {
    const failed = await failStaleBackups(deps, staleAfterMs);
    const unverified = await settleUnverified(deps, policy);
    return { failed: failed.map((entry) => entry.id), unverified: unverified.failed.map((entry) => entry.id), reverified: unverified.reverified };
  };
}

/**
 * The handler's wiring from its environment: STRONGBOX_STALE_AFTER_SECONDS (600),
 * STRONGBOX_VERIFY_WITHIN_SECONDS (3600), and STRONGBOX_OBJECT_CREATED_TOPIC_ARN, where a
 * verification is asked again (without it the watchdog logs that it cannot, and fails the
 * entry once the requests are used up).
 */
export function watchdogFromEnv(env: NodeJS.ProcessEnv, deps: Omit<WatchdogDeps, 'reverifier'>, sns: SNSClient = new SNSClient({})): () => Promise<unknown> {
  const topic = env.STRONGBOX_OBJECT_CREATED_TOPIC_ARN;
  const reverifier = topic ? new SnsReverifier(sns, topic, requiredEnv(env, 'STRONGBOX_BUCKET'), deps.clock, env.AWS_REGION) : undefined;
  const within = Number(env.STRONGBOX_VERIFY_WITHIN_SECONDS);
  // A value that is not a positive number must not make every UPLOADED entry overdue at once.
  const policy: VerifyPolicy = Number.isFinite(within) && within >= 60 ? { ...DEFAULT_VERIFY_POLICY, verifyWithinMs: within * 1000 } : DEFAULT_VERIFY_POLICY;
  return watchdogHandler({ ...deps, ...(reverifier ? { reverifier } : {}) }, Number(env.STRONGBOX_STALE_AFTER_SECONDS ?? '600') * 1000, policy);
}

let run: (() => Promise<unknown>) | undefined;

export const handler = lambdaHandler('watchdog', () => (run ??= watchdogFromEnv(process.env, awsDeps(process.env, lambdaLog)))());
