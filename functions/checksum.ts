import { EmfMetrics } from '../shared/adapters/metrics/emf';
import type { BackupEntry } from '../shared/domain/backup';
import { ManifestError } from '../shared/errors';
import { noMetrics, type Metrics } from '../shared/metrics';
import { awsDeps } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { manifestsIn } from '../shared/runtime/manifest-events';
import { verifyBackupStep, type VerifyBudget, type VerifyDeps, type VerifyStepOptions } from '../shared/usecases/verify-backup';
import type { VerifyCursor } from '../shared/ports/verify';
import { continuationIn, LambdaVerifyHandOver } from '../shared/adapters/lambda/verify-hand-over';
import type { VerifyHandOver } from '../shared/ports/verify';

export interface ChecksumResult {
  verified: string[];
  failed: string[];
  ignored: string[];
  /** Manifests whose verification was handed over to another invocation (the time ran out). */
  continued?: string[];
}

/** The invocation's clock (Lambda's context). */
export interface InvocationTime {
  getRemainingTimeInMillis(): number;
}

/**
 * On ObjectCreated of a manifest: re-reads the objects it declares and compares their
 * SHA-256 (VERIFIED, or FAILED + alert). Garbage events and unreadable manifests are
 * reported, not retried; storage or catalog trouble is thrown so the event is retried.
 *
 * With `handOver` (AWS), each verification runs within the invocation's remaining time:
 * when it would not finish, its cursor is handed to another invocation of this function
 * (an event `{ strongboxVerify: cursor }`, taken up here), so objects of any size are
 * verified hop by hop (docs/verification.md). Without it (local mode) nothing stops early.
 */
export function checksumHandler(deps: VerifyDeps & { metrics?: Metrics; handOver?: VerifyHandOver; tuning?: Omit<VerifyStepOptions, 'resume' | 'budget'> & { budget?: Omit<VerifyBudget, 'remainingMs'> } }) {
  const metrics = deps.metrics ?? noMetrics;
  return async (event: unknown, context?: InvocationTime): Promise<ChecksumResult> => {
    const cursor = continuationIn(event);
    const { manifests, walRecords, ignored: others } = cursor ? { manifests: [cursor.manifestKey], walRecords: [], ignored: [] } : manifestsIn(event, deps.storage.bucket, deps.log);
    // WAL records describe bytes the archive endpoint verified before writing them.
    const ignored = [...others, ...walRecords];
    const result: ChecksumResult = { verified: [], failed: [], ignored };
    // A budget only where a hand-over exists: without one, nothing may stop early.
    const { budget: tuned, ...reads } = deps.tuning ?? {};
    const budget = deps.handOver && context ? { ...tuned, remainingMs: () => context.getRemainingTimeInMillis() } : undefined;
    for (const key of manifests) {
      try {
        const step = await verifyBackupStep(deps, key, { ...reads, ...(budget ? { budget } : {}), ...(cursor ? { resume: cursor } : {}) });
        if (step.continueWith) {
          await handOver(deps.handOver!, step.continueWith);
          (result.continued ??= []).push(step.entry.id);
          continue;
        }
        const entry = step.entry;
        (entry.state === 'VERIFIED' ? result.verified : result.failed).push(entry.id);
        recordOutcome(metrics, entry, deps.clock());
      } catch (error) {
        if (!(error instanceof ManifestError)) throw error;
        result.failed.push(key);
        metrics.record('BackupsFailed', 1, { manifestKey: key });
        deps.log.error('manifest unreadable', { key, reason: error.message });
        await deps.alerts.publish({
          type: 'MANIFEST_INVALID',
          severity: 'SEV2',
          message: error.message,
          hint: error.hint,
          code: error.code,
          at: deps.clock().toISOString(),
        });
      }
    }
    metrics.flush();
    return result;
  };
}

/**
 * The backup's metrics once it is final: bytes and duration (start to end of the upload,
 * or to now) of a VERIFIED one, or a failure. A repeated event for a final entry counts it
 * again (SNS delivers at least once): rare, and harmless for alarms on failures.
 */
function recordOutcome(metrics: Metrics, entry: BackupEntry, now: Date): void {
  const context = { database: entry.database, backupId: entry.id, kind: entry.kind, tier: entry.tier };
  if (entry.state === 'FAILED') return metrics.record('BackupsFailed', 1, context);
  if (entry.state !== 'VERIFIED') return;
  metrics.record('BackupsVerified', 1, context);
  if (entry.bytes !== undefined) metrics.record('BackupBytes', entry.bytes, context);
  const end = entry.finishedAt === undefined ? now.getTime() : Date.parse(entry.finishedAt);
  metrics.record('BackupDurationSeconds', Math.max(0, (end - Date.parse(entry.startedAt)) / 1000), context);
}

/** Hands the cursor over; a failure is thrown, so that Lambda retries this event (which hands over again). */
async function handOver(port: VerifyHandOver, cursor: VerifyCursor): Promise<void> {
  await port.continueVerification(cursor);
}

let handle: ((event: unknown, context?: InvocationTime) => Promise<ChecksumResult>) | undefined;

export const handler = lambdaHandler('checksum', (event: unknown, context) =>
  (handle ??= checksumHandler({ ...awsDeps(process.env, lambdaLog), metrics: new EmfMetrics(lambdaLog), handOver: LambdaVerifyHandOver.fromEnvironment(process.env) }))(event, context),
);
