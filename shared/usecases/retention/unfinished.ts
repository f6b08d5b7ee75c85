import { asStrongboxError } from '../../errors';
import { sweepUnfinishedWrites, type UnfinishedWritesDeps } from '../unfinished-writes';
import type { RetentionReport } from './report';

/** The unfinished-write sweep, into the report; a failure is reported like a deletion's. */
export async function sweepUnfinished(deps: UnfinishedWritesDeps & { staleAfterMs?: number }, dryRun: boolean, report: RetentionReport): Promise<void> {
  try {
    const sweep = await sweepUnfinishedWrites(deps, { dryRun, ...(deps.staleAfterMs !== undefined ? { staleAfterMs: deps.staleAfterMs } : {}) });
    report.unfinished = { discarded: sweep.discarded, kept: sweep.kept, bytes: sweep.bytes };
    report.bytesFreed += sweep.bytes;
    if (sweep.failed) report.failed.push(unfinishedFailure('STORAGE_FAILED', `${sweep.failed} unfinished write(s) could not be discarded (see the log)`));
  } catch (error) {
    const failure = asStrongboxError(error);
    report.failed.push(unfinishedFailure(failure.code, failure.message));
    deps.log.error('retention could not sweep unfinished writes', { code: failure.code, reason: failure.message });
  }
}

function unfinishedFailure(code: string, message: string): RetentionReport['failed'][number] {
  return { id: 'unfinished-writes', database: '-', tier: '-', state: '-', startedAt: '-', rule: 'UNFINISHED_WRITE', reason: 'a killed backup\'s partial file or upload', code, message };
}
