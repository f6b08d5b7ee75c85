import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { ConfigError, StrongboxError } from '../../errors';
import type { PgConnection } from '../../ports/postgres';

/** The JSON RDS and most tools store in a database secret. */
const secretSchema = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().positive().default(5432),
  username: z.string().min(1),
  password: z.string(),
  dbname: z.string().min(1).optional(),
  sslmode: z.string().optional(),
});

/**
 * Reads database credentials from Secrets Manager (RDS-style JSON: host, port,
 * username, password, dbname). The password stays in memory and in the child's
 * environment; it is never logged. Throws ConfigError naming the ARN (never the value).
 */
export async function readDatabaseSecret(client: SecretsManagerClient, secretArn: string, fallbackDatabase: string): Promise<PgConnection> {
  let text: string | undefined;
  try {
    text = (await client.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'AccessDeniedException') {
      throw new StrongboxError(
        'SECRET_ACCESS_DENIED',
        `this role may not read secret ${secretArn} (secretsmanager:GetSecretValue denied)`,
        'Strongbox\'s roles read the secrets named in strongbox.config.json, and the dump task also any secret named strongbox/<stage>/… (a restore target such as a new server after a total loss): store the credentials under that name, or add the database to the config and deploy again',
        { cause: error },
      );
    }
    throw new ConfigError(`cannot read secret ${secretArn}: ${name}`, 'check the ARN and that the task role may call secretsmanager:GetSecretValue on it', {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text ?? '');
  } catch {
    throw new ConfigError(`secret ${secretArn} is not JSON`, 'store {"host","port","username","password","dbname"} as the secret string');
  }
  const parsed = secretSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ');
    throw new ConfigError(`secret ${secretArn} lacks or has bad fields: ${fields}`, 'store {"host","port","username","password","dbname"} as the secret string');
  }
  const secret = parsed.data;
  return {
    host: secret.host,
    port: secret.port,
    user: secret.username,
    password: secret.password,
    database: secret.dbname ?? fallbackDatabase,
    ...(secret.sslmode ? { sslmode: secret.sslmode } : { sslmode: 'require' }),
  };
}
