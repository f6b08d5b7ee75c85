import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { EmfMetrics } from '../shared/adapters/metrics/emf';
import { pgWalServer } from '../shared/adapters/postgres/wal-server';
import type { PgConnection } from '../shared/ports/postgres';
import { readDatabaseSecret } from '../shared/adapters/secrets/database-secret';
import { assertDatabaseName } from '../shared/domain/keys';
import { asStrongboxError, InputError } from '../shared/errors';
import { noMetrics, type Metrics } from '../shared/metrics';
import { awsDeps, type AwsClients } from '../shared/runtime/aws';
import { lambdaHandler, lambdaLog } from '../shared/runtime/lambda';
import { runWalCheckpoint, type WalCheckpointDeps } from '../shared/usecases/wal-checkpoint';
import { readArchivedHistory } from '../shared/usecases/wal-history';

/** The rule's input: the database and its credentials secret (as the backup schedule's). */
const checkpointInput = z.object({
  database: z.string(),
  secretArn: z.string().startsWith('arn:'),
});

export type WalCheckpointInput = z.infer<typeof checkpointInput>;

/** Parses the event, or throws InputError listing every problem. */
export function parseCheckpointInput(event: unknown): WalCheckpointInput {
  const result = checkpointInput.safeParse(event);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`);
    throw new InputError(`WAL checkpoint input is invalid: ${problems.join('; ')}`, 'send {"database": "<name>", "secretArn": "arn:aws:secretsmanager:…"}');
  }
  assertDatabaseName(result.data.database);
  return result.data;
}

export interface WalCheckpointFunctionDeps extends WalCheckpointDeps {
  /** The database's connection, from its secret. */
  connection(input: WalCheckpointInput): Promise<PgConnection>;
  /** ArchiveLagSeconds goes here (EMF in AWS). */
  metrics?: Metrics;
}

/**
 * The archive lag to publish: the measured one, or while the switched segment is still not
 * archived a lower bound — the wait, or the time since the last archived WAL if longer —
 * so that a stuck archiver raises the lag alarm instead of going quiet.
 */
export function lagToPublish(result: { archived: boolean; lagSeconds?: number; status: { measuredAt: string; lastArchivedAt?: string } }, waitMs: number): number {
  if (result.lagSeconds !== undefined) return result.lagSeconds;
  const since = result.status.lastArchivedAt === undefined ? 0 : (Date.parse(result.status.measuredAt) - Date.parse(result.status.lastArchivedAt)) / 1000;
  return Math.max(waitMs / 1000, since);
}

/** Every 15 minutes per database: restore point, WAL switch, archive lag, failures and continuity (see runWalCheckpoint). */
export function walCheckpointHandler(deps: WalCheckpointFunctionDeps, options: { waitMs: number }) {
  return async (event: unknown) => {
    const input = parseCheckpointInput(event);
    let connection: PgConnection;
    try {
      connection = await deps.connection(input);
    } catch (error) {
      // Without this alert a broken secret would stop every checkpoint of the database silently.
      const failure = asStrongboxError(error);
      await deps.alerts.publish({
        type: 'WAL_CHECKPOINT_FAILED',
        severity: 'SEV2',
        message: `the WAL checkpoint of ${input.database} cannot read its database secret: ${failure.message}`,
        hint: failure.hint,
        database: input.database,
        code: failure.code,
        at: deps.clock().toISOString(),
      });
      throw failure;
    }
    const result = await runWalCheckpoint(deps, { database: input.database, connection, waitMs: options.waitMs });
    const metrics = deps.metrics ?? noMetrics;
    metrics.record('ArchiveLagSeconds', lagToPublish(result, options.waitMs), { database: input.database, segment: result.switched.segment, archived: String(result.archived) });
    metrics.flush();
    return {
      database: result.database,
      segment: result.switched.segment,
      restorePoint: result.restorePoint?.name ?? null,
      archived: result.archived,
      lagSeconds: result.lagSeconds ?? null,
      gap: result.gap.missing,
      alerts: result.alerts,
      warnings: result.warnings,
    };
  };
}

let deps: WalCheckpointFunctionDeps | undefined;

/** The function's wiring from its environment (`clients`: given by tests against stand-ins). */
export function lambdaDeps(env: NodeJS.ProcessEnv, clients?: AwsClients & { secrets: SecretsManagerClient }): WalCheckpointFunctionDeps {
  const secrets = clients?.secrets ?? new SecretsManagerClient({});
  const aws = awsDeps(env, lambdaLog, clients);
  return {
    ...aws,
    server: pgWalServer,
    // Across a timeline switch the continuity check follows the archived history file.
    readHistory: (database, timeline) => readArchivedHistory(aws, database, timeline),
    connection: (input) => readDatabaseSecret(secrets, input.secretArn, input.database),
    metrics: new EmfMetrics(lambdaLog),
  };
}

export const handler = lambdaHandler('wal-checkpoint', (event: unknown) =>
  walCheckpointHandler((deps ??= lambdaDeps(process.env)), { waitMs: Number(process.env.STRONGBOX_WAL_WAIT_SECONDS ?? '60') * 1000 })(event),
);
