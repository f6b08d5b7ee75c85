import { z } from 'zod';
import schedules from '../deploy/schedules.json';
import { assertDatabaseName } from './domain/keys';
import { retentionPolicySchema } from './domain/retention/policy';
import { ConfigError } from './errors';

/**
 * `strongbox.config.json`: the databases to back up and where backups go. The same file
 * feeds serverless.yml (schedules, secret ARNs) and local mode. Connections are URLs
 * without a password: the password comes from DATABASE_URL in the environment, a
 * PGPASSFILE, or a Secrets Manager secret (AWS).
 */

const databaseSchema = z.object({
  name: z.string(),
  url: z.string().optional(),
  secretArn: z.string().startsWith('arn:').optional(),
  passfile: z.string().optional(),
  schedule: z.string().default(schedules.logicalBackup),
  compression: z.enum(['gzip', 'zstd']).default('gzip'),
  includeRolePasswords: z.boolean().default(false),
  /** A logical backup's data parts: 1 one stream, N > 1 a parallel backup; absent: chosen from size and vCPU (docs/backups.md). */
  dumpJobs: z.number().int().min(1).max(32).optional(),
});

const storageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('folder'), path: z.string().optional() }),
  z.object({
    type: z.literal('s3'),
    bucket: z.string().min(3),
    prefix: z.string().optional(),
    region: z.string().optional(),
    endpoint: z.url().optional(),
    forcePathStyle: z.boolean().optional(),
  }),
]);

const alertsSchema = z.object({
  /**
   * Local mode: alerts also go to this Slack-compatible incoming webhook. It is a secret
   * (whoever has it can post): prefer STRONGBOX_SLACK_WEBHOOK_URL in the environment, which
   * wins over the file. In AWS the notifySlack function reads it from SSM (docs/alerts.md).
   */
  webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
});

export const configSchema = z.object({
  databases: z.array(databaseSchema).default([]),
  storage: storageSchema.default({ type: 'folder' }),
  /** How often a dump task proves it is alive. */
  heartbeatSeconds: z.number().int().min(1).max(600).default(30),
  /** A RUNNING backup silent for longer is marked FAILED. */
  staleAfterSeconds: z.number().int().min(60).max(86_400).default(600),
  /** An UPLOADED backup not VERIFIED this long after its upload is verified again (twice, this far apart), then FAILED. */
  verifyWithinSeconds: z.number().int().min(60).max(7 * 86_400).default(3_600),
  watchdogSchedule: z.string().default(schedules.watchdog),
  /** Local mode: how long Ctrl-C of `npm start` waits for running backups before stopping them (FAILED, interrupted). */
  stopWaitSeconds: z.number().int().min(0).max(86_400).default(600),
  /** Retention windows (docs/retention.md); every field optional. */
  retention: retentionPolicySchema.optional(),
  /** Where alerts go besides the console in local mode (docs/alerts.md). */
  alerts: alertsSchema.optional(),
});

export type StrongboxConfig = z.infer<typeof configSchema>;
export type DatabaseConfig = StrongboxConfig['databases'][number];
export type StorageConfig = StrongboxConfig['storage'];
export type AlertsConfig = NonNullable<StrongboxConfig['alerts']>;

/**
 * Validates a parsed config file. Throws ConfigError listing every problem, with the
 * file name: bad JSON shape, a bad database name, a duplicate name, a URL with a password.
 */
export function parseConfig(json: unknown, source: string): StrongboxConfig {
  const result = configSchema.safeParse(json ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`${source} is invalid: ${problems.join('; ')}`, 'fix the file; README.md shows an example');
  }
  const config = result.data;
  const seen = new Set<string>();
  for (const database of config.databases) {
    try {
      assertDatabaseName(database.name);
    } catch (error) {
      throw new ConfigError(`${source}: ${(error as Error).message}`, 'rename the database entry', { cause: error });
    }
    if (seen.has(database.name)) throw new ConfigError(`${source}: database "${database.name}" is listed twice`, 'give each entry its own name');
    seen.add(database.name);
    if (database.url && /^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(database.url)) {
      throw new ConfigError(
        `${source}: the URL of database "${database.name}" contains a password`,
        'remove the password from the file; use DATABASE_URL in the environment, a PGPASSFILE ("passfile"), or "secretArn"',
      );
    }
  }
  return config;
}
