import type { Command } from 'commander';
import { makeDynamoDocumentClient } from '../../adapters/catalog/client';
import { DynamoWalCatalog } from '../../adapters/catalog/dynamo-wal';
import { pgWalServer } from '../../adapters/postgres/wal-server';
import { LOCAL_TABLE } from '../../local/context';
import { resolveDatabase } from '../../local/databases';
import { createNamedRestorePoint } from '../../usecases/restore-point';
import { printResult, type CommandRunner, type Output } from '../output';
import { withSession } from '../session';

interface RestorePointFlags {
  database?: string;
  databaseUrl?: string;
  json?: boolean;
}

/** Runs `strongbox restore-point NAME`: exit 0 once the point exists on the server and in the catalog. */
export async function restorePointCommand(name: string, flags: RestorePointFlags, out: Output): Promise<number> {
  return withSession(out, async ({ context, config, env }) => {
    const target = resolveDatabase({ name: flags.database, url: flags.databaseUrl }, config, env, context.paths);
    const walCatalog = new DynamoWalCatalog(makeDynamoDocumentClient({ endpoint: context.catalogEndpoint }), LOCAL_TABLE);
    const point = await createNamedRestorePoint({ walCatalog, server: pgWalServer, clock: context.clock, log: context.log }, { database: target.name, connection: target.connection, name });
    printResult(
      out,
      { database: target.name, ...point },
      `Restore point ${JSON.stringify(point.name)} of ${target.name} at ${point.lsn} (timeline ${point.timeline}), ${point.createdAt}` +
        `\n  recover to it with: strongbox pitr --database ${target.name} --name ${JSON.stringify(point.name)} --pgdata /srv/pg/recovered` +
        '\n  (--pgdata: a new, empty directory for the recovered cluster; add --dry-run to see the plan first)',
    );
    return 0;
  });
}

/** Registers `restore-point` on the program. */
export function registerRestorePoint(program: Command, run: CommandRunner): void {
  program
    .command('restore-point')
    .description('mark this moment with a named restore point (pg_create_restore_point) that point-in-time recovery can stop at')
    .argument('<name>', 'unique per database, at most 63 bytes, e.g. before-migration-42')
    .option('--database <name>', 'a database from strongbox.config.json (or "demo" in local mode)')
    .option('--database-url <url>', 'postgresql://user@host:port/db — no password here: use DATABASE_URL or PGPASSFILE')
    .option('--json', 'print one JSON document')
    .addHelpText('after', '\nExamples:\n  strongbox restore-point before-migration-42 --database app\n  strongbox restore-point "release 3.1" --json\n')
    .action(async (name: string, flags: RestorePointFlags) => run((out) => restorePointCommand(name, flags, out), Boolean(flags.json)));
}
