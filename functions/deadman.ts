import { EmfMetrics } from '../shared/adapters/metrics/emf';
import { DEFAULT_DEADMAN_POLICY, type DeadmanPolicy, type DeadmanSchedule } from '../shared/domain/deadman';
import { deadmanSchedulesOf, type DeployConfig } from '../shared/domain/deploy-config';
import { ConfigError } from '../shared/errors';
import { awsDeps } from '../shared/runtime/aws';
import { packagedDeployConfig } from '../shared/runtime/deploy-config';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { runDeadman, type DeadmanDeps } from '../shared/usecases/deadman';

/**
 * The switch's settings: what each database expects, from the packaged config (`config`,
 * default: the one compiled into the bundle, see shared/runtime/deploy-config.ts — never an
 * environment variable, which 200 databases would overflow), and from the environment
 * optionally STRONGBOX_ARCHIVE_TIMEOUT_SECONDS (the hosts' archive_timeout, default 60) and
 * STRONGBOX_BACKUP_GRACE_MINUTES (default 120). Throws ConfigError naming what is wrong.
 */
export function deadmanSettings(env: NodeJS.ProcessEnv, config: DeployConfig = packagedDeployConfig(env)): { schedules: DeadmanSchedule[]; policy: DeadmanPolicy } {
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`, 'fix the stage parameter and redeploy');
    return value;
  };
  return {
    schedules: deadmanSchedulesOf(config),
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
