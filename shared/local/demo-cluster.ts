import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCluster } from '../adapters/postgres/cluster';
import { seedSampleData } from '../adapters/postgres/sample-data';
import type { PgConnection } from '../adapters/postgres/types';
import type { Log } from '../ports';
import { DEMO_DATABASE, demoConnectionFile } from './databases';
import type { HomePaths } from './home';

/** The demo cluster's libpq passfile (mode 0600): the password never leaves it. */
function passfilePath(paths: HomePaths): string {
  return join(paths.root, 'demo.pgpass');
}

function readPassword(paths: HomePaths): string | undefined {
  if (!existsSync(passfilePath(paths))) return undefined;
  return readFileSync(passfilePath(paths), 'utf8').trim().split(':').slice(4).join(':');
}

/**
 * Local mode's throwaway PostgreSQL: created on first start under the home (initdb from
 * the machine's binaries, a random superuser password kept in a passfile, a `demo`
 * database with sample data), started again on later starts. Records how to reach it for
 * CLI commands. Returns the connection (password by passfile) and how to stop it.
 */
export async function ensureDemoCluster(paths: HomePaths, log: Log): Promise<{ connection: PgConnection; cluster: LocalCluster }> {
  let cluster: LocalCluster;
  let password = readPassword(paths);
  if (password !== undefined && existsSync(join(paths.cluster, 'PG_VERSION'))) {
    cluster = await LocalCluster.open(paths.cluster, { superuserPassword: password });
    await cluster.start();
    log.info('demo PostgreSQL started', { dataDir: paths.cluster });
  } else {
    password = randomBytes(18).toString('base64url');
    writeFileSync(passfilePath(paths), `127.0.0.1:*:*:postgres:${password}\n`, { mode: 0o600 });
    cluster = await LocalCluster.create({ dataDir: paths.cluster, superuserPassword: password });
    await cluster.createDatabase(DEMO_DATABASE);
    await seedSampleData(cluster.connection(DEMO_DATABASE));
    log.info('demo PostgreSQL created with sample data', { dataDir: paths.cluster, database: DEMO_DATABASE });
  }
  const { password: _secret, ...withoutPassword } = cluster.connection(DEMO_DATABASE);
  const connection: PgConnection = { ...withoutPassword, passfile: passfilePath(paths) };
  writeFileSync(demoConnectionFile(paths), `${JSON.stringify(connection, null, 2)}\n`, { mode: 0o600 });
  return { connection, cluster };
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
