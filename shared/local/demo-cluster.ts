import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCluster } from '../adapters/postgres/cluster';
import { seedSampleData } from '../adapters/postgres/sample-data';
import type { PgConnection } from '../ports/postgres';
import { redactConnection } from '../domain/connection';
import type { Log } from '../ports';
import { DEMO_DATABASE, demoConnectionFile } from './databases';
import type { HomePaths } from './home';

/** The demo cluster's libpq passfile (mode 0600): the password never leaves it. */
export function demoPassfilePath(paths: HomePaths): string {
  return join(paths.root, 'demo.pgpass');
}

/**
 * Where this home's demo PostgreSQL listens and the passfile that logs in to it, as `npm start`
 * recorded them; undefined when the home has no demo cluster.
 */
export function readDemoServer(paths: HomePaths): { host: string; port: number; user: string; passfile: string } | undefined {
  try {
    const recorded = JSON.parse(readFileSync(demoConnectionFile(paths), 'utf8')) as Partial<PgConnection>;
    if (typeof recorded.host !== 'string' || typeof recorded.port !== 'number' || typeof recorded.user !== 'string') return undefined;
    return { host: recorded.host, port: recorded.port, user: recorded.user, passfile: recorded.passfile ?? demoPassfilePath(paths) };
  } catch {
    return undefined;
  }
}

/** Single quotes for POSIX sh, only where needed. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The shell line that opens psql on the demo database (`PGPASSFILE=… psql postgresql://…`),
 * the password read from its passfile, never printed.
 */
export function demoPsqlCommand(connection: PgConnection): string {
  return `${connection.passfile ? `PGPASSFILE=${shellWord(connection.passfile)} ` : ''}psql ${shellWord(redactConnection(connection))}`;
}

function readPassword(paths: HomePaths): string | undefined {
  if (!existsSync(demoPassfilePath(paths))) return undefined;
  return readFileSync(demoPassfilePath(paths), 'utf8').trim().split(':').slice(4).join(':');
}

/** True when the home holds a demo cluster from an earlier start (its data and its passfile): ensureDemoCluster reuses it. */
export function hasDemoCluster(paths: HomePaths): boolean {
  return readPassword(paths) !== undefined && existsSync(join(paths.cluster, 'PG_VERSION'));
}

/**
 * What `npm start` says about the demo PostgreSQL before ensureDemoCluster: a new one with
 * sample data, or the one of an earlier start with its data as it was left.
 */
export function demoClusterAnnouncement(paths: HomePaths): string {
  const why = 'No DATABASE_URL and no databases in strongbox.config.json';
  return hasDemoCluster(paths)
    ? `${why}: starting the demo PostgreSQL of an earlier start (${paths.cluster}), its data as it was left…`
    : `${why}: creating a throwaway PostgreSQL with sample data (${paths.cluster})…`;
}

/**
 * Local mode's throwaway PostgreSQL: created on first start under the home (initdb from
 * the machine's binaries, a random superuser password kept in a passfile, a `demo`
 * database with sample data), started again on later starts with its data as it was left
 * (`created` says which). Records how to reach it for CLI commands. Returns the connection
 * (password by passfile) and how to stop it.
 */
export async function ensureDemoCluster(paths: HomePaths, log: Log): Promise<{ connection: PgConnection; cluster: LocalCluster; created: boolean }> {
  let cluster: LocalCluster;
  let password = readPassword(paths);
  const created = !hasDemoCluster(paths);
  if (!created && password !== undefined) {
    cluster = await LocalCluster.open(paths.cluster, { superuserPassword: password });
    await cluster.start();
    log.info('demo PostgreSQL started', { dataDir: paths.cluster });
  } else {
    password = randomBytes(18).toString('base64url');
    writeFileSync(demoPassfilePath(paths), `127.0.0.1:*:*:postgres:${password}\n`, { mode: 0o600 });
    cluster = await LocalCluster.create({ dataDir: paths.cluster, superuserPassword: password });
    await cluster.createDatabase(DEMO_DATABASE);
    await seedSampleData(cluster.connection(DEMO_DATABASE));
    log.info('demo PostgreSQL created with sample data', { dataDir: paths.cluster, database: DEMO_DATABASE });
  }
  const { password: _secret, ...withoutPassword } = cluster.connection(DEMO_DATABASE);
  const connection: PgConnection = { ...withoutPassword, passfile: demoPassfilePath(paths) };
  writeFileSync(demoConnectionFile(paths), `${JSON.stringify(connection, null, 2)}\n`, { mode: 0o600 });
  return { connection, cluster, created };
}

/**
 * Points the demo cluster's archiving at Strongbox (ALTER SYSTEM: archive_mode,
 * archive_command, archive_timeout 60 s so the RPO on a quiet database is a minute), and
 * restarts it when archive_mode was off (it only changes at start); otherwise reloads.
 */
export async function configureDemoArchiving(cluster: LocalCluster, archiveCommand: string, log: Log): Promise<void> {
  const quoted = archiveCommand.replace(/'/g, "''");
  await cluster.psql(`ALTER SYSTEM SET archive_mode = 'on';\nALTER SYSTEM SET archive_command = '${quoted}';\nALTER SYSTEM SET archive_timeout = '60s';\nSELECT pg_reload_conf();`);
  const mode = (await cluster.psql("SELECT setting FROM pg_settings WHERE name = 'archive_mode';")).trim();
  if (mode !== 'on') {
    await cluster.stop();
    await cluster.start();
    log.info('demo PostgreSQL restarted with archiving on', { archiveMode: 'on' });
  }
}
