/**
 * How the validation task reads the archive for a physical drill: a WAL host config of its own
 * (docs/wal.md) in the task's temporary folder — the archive endpoint's Function URL from
 * STRONGBOX_ARCHIVE_URL, signed with the task role (IAM) — and `wal-fetch` of the bundled WAL
 * program as the scratch's restore_command.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../shared/errors';

/** Writes the config under `dir` and returns the restore_command for `database`. @throws ConfigError without STRONGBOX_ARCHIVE_URL or a region. */
export async function taskRestoreCommand(env: NodeJS.ProcessEnv, database: string, dir: string, entry = process.argv[1] ?? ''): Promise<string> {
  const endpoint = env.STRONGBOX_ARCHIVE_URL;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!endpoint || !region) {
    throw new ConfigError('the validation task has no STRONGBOX_ARCHIVE_URL (or AWS_REGION): the physical drill fetches WAL through the archive endpoint', 'set STRONGBOX_ARCHIVE_URL on the validation task to the archive Function URL (the ArchiveEndpointUrl output), and allow its role lambda:InvokeFunctionUrl on it');
  }
  const home = join(dir, 'strongbox-drill-wal', database);
  await mkdir(join(home, 'spool'), { recursive: true, mode: 0o700 });
  const config = join(home, 'wal.json');
  await writeFile(config, `${JSON.stringify({ database, endpoint, auth: { type: 'iam', region }, spool: join(home, 'spool') }, null, 2)}\n`, { mode: 0o600 });
  const beside = join(dirname(entry), 'wal.js');
  const bundle = existsSync(beside) ? beside : resolve('dist/wal.js');
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  return `${quote(process.execPath)} ${quote(bundle)} wal-fetch %f %p --config ${quote(config)}`;
}
