import { ECSClient } from '@aws-sdk/client-ecs';
import { z } from 'zod';
import { EcsTaskLauncher } from '../shared/adapters/ecs/ecs-launcher';
import { TIERS } from '../shared/domain/backup';
import { assertDatabaseName } from '../shared/domain/keys';
import { InputError } from '../shared/errors';
import { awsDeps, type AwsClients } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog, requiredEnv } from '../shared/runtime/lambda';
import { launchScheduledBackup, type ScheduleDeps } from '../shared/usecases/schedule-backup';

/**
 * The schedule's input: the database and its credentials secret, and the time the rule
 * fired (EventBridge's `time`, passed by an input transformer; without it, the current
 * minute). `sls invoke -f scheduleBackup --data '{"database":"app"}'` starts one by hand.
 */
const scheduleInput = z.object({
  database: z.string(),
  secretArn: z.string().startsWith('arn:').optional(),
  time: z.iso.datetime({ offset: true }).optional(),
  compression: z.enum(['gzip', 'zstd']).optional(),
  /** The config's dumpJobs: the logical backup's data parts (docs/backups.md). */
  dumpJobs: z.number().int().min(1).max(32).optional(),
  type: z.enum(['logical', 'base']).optional(),
  /** Overrides the tier of the date (a catch-up run after a fresh deployment). */
  tier: z.enum(TIERS).optional(),
});

export type ScheduleInput = z.infer<typeof scheduleInput>;

/** Parses the event, or throws InputError listing every problem. */
export function parseScheduleInput(event: unknown): ScheduleInput {
  const result = scheduleInput.safeParse(event);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`);
    throw new InputError(`schedule input is invalid: ${problems.join('; ')}`, 'send {"database": "<name>", "secretArn": "arn:aws:secretsmanager:…"}');
  }
  assertDatabaseName(result.data.database);
  return result.data;
}

/** Records the backup as RUNNING and launches its dump task; a repeated event launches nothing. */
export function scheduleBackupHandler(deps: ScheduleDeps) {
  return async (event: unknown) => {
    const input = parseScheduleInput(event);
    const scheduledAt = input.time ? new Date(input.time) : minuteOf(deps.clock());
    const { entry, launched } = await launchScheduledBackup(deps, {
      database: input.database,
      scheduledAt,
      ...(input.secretArn ? { secretArn: input.secretArn } : {}),
      ...(input.compression ? { compression: input.compression } : {}),
      ...(input.dumpJobs !== undefined ? { dumpJobs: input.dumpJobs } : {}),
      ...(input.type ? { type: input.type } : {}),
      ...(input.tier ? { tier: input.tier } : {}),
    });
    return { backupId: entry.id, tier: entry.tier, state: entry.state, runner: entry.runner, launched };
  };
}

function minuteOf(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 60_000) * 60_000);
}

let deps: ScheduleDeps | undefined;

/** The function's wiring from its environment (`clients`: given by tests against stand-ins). */
export function ecsDeps(env: NodeJS.ProcessEnv, clients?: AwsClients & { ecs: ECSClient }): ScheduleDeps {
  const list = (name: string) => requiredEnv(env, name).split(',').map((item) => item.trim()).filter(Boolean);
  const launcher = new EcsTaskLauncher(clients?.ecs ?? new ECSClient({}), {
    cluster: requiredEnv(env, 'STRONGBOX_CLUSTER_ARN'),
    taskDefinition: requiredEnv(env, 'STRONGBOX_TASK_DEFINITION_ARN'),
    containerName: env.STRONGBOX_CONTAINER_NAME ?? 'dump',
    subnets: list('STRONGBOX_SUBNETS'),
    securityGroups: list('STRONGBOX_SECURITY_GROUPS'),
    assignPublicIp: env.STRONGBOX_ASSIGN_PUBLIC_IP === 'ENABLED' ? 'ENABLED' : 'DISABLED',
  });
  return { ...awsDeps(env, lambdaLog, clients), launcher };
}

export const handler = lambdaHandler('schedule-backup', (event: unknown) => scheduleBackupHandler((deps ??= ecsDeps(process.env)))(event));
