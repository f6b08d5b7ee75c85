import { z } from 'zod';
import type { PitrPlan } from '../shared/domain/wal/pitr-plan';
import { parsePitrTarget } from '../shared/domain/wal/pitr-target';
import { assertDatabaseName } from '../shared/domain/keys';
import { formatLsn } from '../shared/domain/wal/names';
import { InputError } from '../shared/errors';
import { awsDeps } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { planRecovery, type PitrDeps } from '../shared/usecases/pitr';

/** `sls invoke -f pitr --data '{…}'`: the same targets as `strongbox pitr`. */
const pitrInput = z
  .object({
    database: z.string(),
    time: z.string().optional(),
    lsn: z.string().optional(),
    xid: z.string().optional(),
    name: z.string().optional(),
    latest: z.boolean().optional(),
    timeline: z.number().int().positive().optional(),
    dryRun: z.boolean().optional(),
  })
  .strict();

export type PitrInput = z.infer<typeof pitrInput>;

/** Parses the payload, or throws InputError listing every problem. */
export function parsePitrInput(event: unknown): PitrInput {
  const result = pitrInput.safeParse(event);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(payload)'}: ${issue.message}`);
    throw new InputError(`pitr payload is invalid: ${problems.join('; ')}`, 'send {"database": "app", "time": "2026-11-24T03:12:00Z", "dryRun": true} (or lsn, xid, name, latest)');
  }
  assertDatabaseName(result.data.database);
  if (result.data.dryRun !== true) {
    throw new InputError(
      'the pitr function only plans ("dryRun": true)',
      'a recovery writes a data directory on a database host: run `strongbox pitr … --pgdata DIR --start` there, with the plan this function returns',
    );
  }
  return result.data;
}

function planJson(database: string, plan: PitrPlan) {
  return {
    database,
    dryRun: true,
    target: plan.target,
    baseBackup: { id: plan.base.id, startLsn: formatLsn(plan.base.startLsn), stopLsn: formatLsn(plan.base.stopLsn), timeline: plan.base.timeline, finishedAt: plan.base.finishedAt },
    wal: plan.wal,
    timelines: plan.timelines,
    reach: plan.reach,
    warnings: plan.warnings,
  };
}

/**
 * Plans a point-in-time recovery from the catalog alone: the base backup, the WAL it
 * needs and proof that the archive is continuous to the target (a gap names the missing
 * segments). Nothing is written.
 */
export function makePitrHandler(deps: PitrDeps) {
  return async (event: unknown) => {
    const input = parsePitrInput(event);
    const target = parsePitrTarget({ time: input.time, lsn: input.lsn, xid: input.xid, name: input.name, latest: input.latest });
    const { plan } = await planRecovery(deps, input.database, target, input.timeline);
    return planJson(input.database, plan);
  };
}

let deps: PitrDeps | undefined;

export const handler = lambdaHandler('pitr', (event: unknown) => makePitrHandler((deps ??= awsDeps(process.env, lambdaLog)))(event));
