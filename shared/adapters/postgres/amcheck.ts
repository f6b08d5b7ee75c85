/**
 * pg_amcheck over a (scratch) cluster: every database's heap relations and B-tree indexes,
 * installing the amcheck extension where it is missing (the scratch is thrown away after).
 */
import { join } from 'node:path';
import { findBinDir } from './cluster';
import { runCommand } from './process';
import type { PgConnection } from '../../ports/postgres';
import type { AmcheckResult } from '../../ports/postgres';

/** Runs pg_amcheck --all against the server `conn` reaches (its socket, trusted). */
export async function runAmcheck(conn: PgConnection, binDir?: string): Promise<AmcheckResult> {
  const bin = binDir ?? (await findBinDir());
  const args = ['-h', conn.host, '-p', String(conn.port), '-U', conn.user, '--maintenance-db', conn.database, '--all', '--install-missing', '--no-password'];
  const result = await runCommand(join(bin, 'pg_amcheck'), args, { cwd: '/' });
  return { ok: result.code === 0, exitCode: result.code ?? -1, output: `${result.stdout}${result.stderr}`.trim().slice(-2000) };
}
