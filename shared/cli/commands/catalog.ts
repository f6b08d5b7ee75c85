import type { Command } from 'commander';
import { walCodec } from '../../adapters/wal-codec/inspect';
import { rebuildCatalog } from '../../usecases/rebuild-catalog';
import { printResult, type CommandRunner, type Output } from '../output';
import { withSession } from '../session';

/** Runs `strongbox catalog rebuild`: the catalog from the manifests and the WAL records in storage. */
export async function rebuildCommand(flags: { verify: boolean }, out: Output): Promise<number> {
  return withSession(out, async ({ context }) => {
    const report = await rebuildCatalog({ ...context, codec: walCodec }, { verify: flags.verify });
    const lines = [
      `Catalog rebuilt from ${context.storage.location}: ${report.manifests} manifests, ${report.created} new entries, ${report.alreadyKnown} already known.`,
      `${report.verified} verified, ${report.failed} failed.`,
      ...report.damaged.map((item) => `  DAMAGED backup ${item.backupId}, now FAILED: ${item.reason}`),
      ...report.unreadable.map((item) => `  unreadable manifest ${item.key}: ${item.reason}`),
      ...report.incomplete.map((folder) => `  incomplete backup (no manifest): ${folder}`),
      ...(report.wal ? [`WAL index: ${report.wal.records} records, ${report.wal.created} new, ${report.wal.alreadyKnown} already known, ${report.wal.skippedCount} skipped.`] : []),
      ...(report.wal?.skipped ?? []).map((item) => `  WAL record skipped ${item.key}: ${item.reason}`),
      ...(report.walView ? [`WAL view: ${report.walView.items} item(s) of ${report.walView.databases} database(s) added, ${report.walView.complete ? 'complete' : `NOT complete (${report.walView.failed.map((item) => item.database).join(', ')}: see the log)`}.`] : []),
    ];
    printResult(out, report, lines.join('\n'));
    return report.unreadable.length || report.failed || report.wal?.skippedCount ? 1 : 0;
  });
}

/** Registers `catalog rebuild`. */
export function registerCatalog(program: Command, run: CommandRunner): void {
  const catalog = program
    .command('catalog')
    .description('maintain the catalog (the storage is the truth, the catalog its index)')
    .addHelpText('after', '\nExample:\n  strongbox catalog rebuild --json\n');
  catalog
    .command('rebuild')
    .description('rebuild the catalog from the manifests and WAL records in storage, checksum what is not yet verified, and check the sizes of what is')
    .option('--no-verify', 'only index; leave the checksum for later')
    .option('--json', 'print one JSON document')
    .addHelpText('after', '\nExample:\n  strongbox catalog rebuild --json\n')
    .action(async (flags: { verify: boolean; json?: boolean }) => run((out) => rebuildCommand(flags, out), Boolean(flags.json)));
}
