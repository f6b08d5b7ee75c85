import { z } from 'zod';
import { EmfMetrics } from '../shared/adapters/metrics/emf';
import { DEFAULT_DEADMAN_POLICY, type DeadmanPolicy, type DeadmanSchedule } from '../shared/domain/deadman';
import { assertDatabaseName } from '../shared/domain/keys';
import { ConfigError } from '../shared/errors';
import { awsDeps } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';
import { runDeadman, type DeadmanDeps } from '../shared/usecases/deadman';

const schedulesSchema = z.array(
  z.object({
    database: z.string(),
    logical: z.string().optional(),
    base: z.string().optional(),
    walArchiving: z.boolean(),
    validation: z.boolean(),
  }),
);

/**
 * The switch's settings from the function's environment: STRONGBOX_DEADMAN_SCHEDULES (JSON,
 * written by deploy/deadman.cjs), and optionally STRONGBOX_ARCHIVE_TIMEOUT_SECONDS (the
 * hosts' archive_timeout, default 60) and STRONGBOX_BACKUP_GRACE_MINUTES (default 120).
 * Throws ConfigError naming the variable that is wrong (a deployment bug).
 */
export function deadmanSettings(env: NodeJS.ProcessEnv): { schedules: DeadmanSchedule[]; policy: DeadmanPolicy } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(requiredEnv(env, 'STRONGBOX_DEADMAN_SCHEDULES'));
  } catch (error) {
    throw new ConfigError(`STRONGBOX_DEADMAN_SCHEDULES is not JSON: ${(error as Error).message}`, 'serverless.yml sets it from deploy/deadman.cjs: redeploy', { cause: error });
  }
  const result = schedulesSchema.safeParse(parsed);
  if (!result.success) {
    throw new ConfigError(`STRONGBOX_DEADMAN_SCHEDULES is invalid: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'serverless.yml sets it from deploy/deadman.cjs: redeploy');
  }
  for (const schedule of result.data) assertDatabaseName(schedule.database);
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`, 'fix the stage parameter and redeploy');
    return value;
  };
  const schedules = result.data.map(({ logical, base, ...rest }) => ({ ...rest, ...(logical ? { logical } : {}), ...(base ? { base } : {}) }));
  return {
    schedules,
    policy: {
      ...DEFAULT_DEADMAN_POLICY,
      archiveTimeoutSeconds: number('STRONGBOX_ARCHIVE_TIMEOUT_SECONDS', DEFAULT_DEADMAN_POLICY.archiveTimeoutSeconds, 1, 3600),
      backupGraceMs: number('STRONGBOX_BACKUP_GRACE_MINUTES', DEFAULT_DEADMAN_POLICY.backupGraceMs / 60_000, 10, 24 * 60) * 60_000,
    },
  };
}

/** Hourly: the dead man's switch over every configured database (see runDeadman). */
export function deadmanHandler(deps: DeadmanDeps, settings: { schedules: DeadmanSchedule[]; policy: DeadmanPolicy }) {
  return async (): Promise<{ checkedAt: string; findings: Array<{ database: string; code: string; tier: string | null; dueAt: string }> }> => {
    const report = await runDeadman(deps, settings.schedules, settings.policy);
    return { checkedAt: report.checkedAt, findings: report.findings.map((f) => ({ database: f.database, code: f.code, tier: f.tier ?? null, dueAt: f.dueAt })) };
  };
}

let handle: (() => ReturnType<ReturnType<typeof deadmanHandler>>) | undefined;

export const handler = lambdaHandler('deadman', () => (handle ??= deadmanHandler({ ...awsDeps(process.env, lambdaLog), metrics: new EmfMetrics(lambdaLog) }, deadmanSettings(process.env)))());
