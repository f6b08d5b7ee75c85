import { z } from 'zod';
import { ConfigError } from '../errors';
import type { DeadmanSchedule } from './deadman';
import { assertDatabaseName } from './keys';

/**
 * The databases of a stack and their schedules, as deploy/schedules.cjs packages them into
 * the functions that need them (the dispatcher, the dead man's switch): compiled into the
 * bundle, never in a function's environment, whose 4 KB would hold about 30 databases.
 * 200 databases are ~30 KB of JSON in a bundle of megabytes. Pure.
 */

const EXPRESSION = z.string().regex(/^(cron\(.+\)|rate\(\d+ [a-z]+\))$/, 'an EventBridge expression like cron(0 3 * * ? *) or rate(15 minutes)');

const deployConfigSchema = z.object({
  databases: z.array(
    z.object({
      name: z.string(),
      secretArn: z.string().startsWith('arn:'),
      /** The logical dump's schedule. */
      schedule: EXPRESSION,
      compression: z.enum(['gzip', 'zstd']).optional(),
      /** The logical backup's data parts (docs/backups.md); absent: chosen by the task. */
      dumpJobs: z.number().int().min(1).max(32).optional(),
    }),
  ),
  /** Every database's daily base backup. */
  baseBackup: EXPRESSION,
  /** Every database's WAL checkpoint. */
  walCheckpoint: EXPRESSION,
  /** Every database's restore drill. */
  validation: EXPRESSION,
});

export type DeployConfig = z.infer<typeof deployConfigSchema>;
export type DeployDatabase = DeployConfig['databases'][number];

const REDEPLOY = 'deploy/schedules.cjs writes it from strongbox.config.json when the stack is packaged: fix the config and redeploy';

/** Parses the packaged config's JSON, or throws ConfigError saying what is wrong. */
export function parseDeployConfig(text: string): DeployConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`the packaged Strongbox config is not JSON: ${(error as Error).message}`, REDEPLOY, { cause: error });
  }
  const result = deployConfigSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.slice(0, 10).map((issue) => `${issue.path.join('.') || '(config)'}: ${issue.message}`);
    throw new ConfigError(`the packaged Strongbox config is invalid: ${problems.join('; ')}`, REDEPLOY);
  }
  for (const database of result.data.databases) assertDatabaseName(database.name);
  return result.data;
}

/** What the dead man's switch expects of each database of the config. */
export function deadmanSchedulesOf(config: DeployConfig): DeadmanSchedule[] {
  return config.databases.map(({ name, schedule }) => ({ database: name, logical: schedule, base: config.baseBackup, walArchiving: true, validation: true }));
}
