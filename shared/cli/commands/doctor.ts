import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { runCommand } from '../../adapters/postgres/process';
import { pgWalServer } from '../../adapters/postgres/wal-server';
import type { Finding } from '../../domain/wal/doctor';
import { resolveDatabase } from '../../local/databases';
import { walHostPaths } from '../../local/wal-paths';
import { runDoctor, type DoctorReport, type EndpointProbe } from '../../usecases/doctor';
import { printResult, type CommandRunner, type Output } from '../output';
import { withSession } from '../session';
import { endpointProbeFromHostConfig } from './doctor-endpoint';

interface DoctorFlags {
  database?: string;
  databaseUrl?: string;
  json?: boolean;
}

const MARK: Record<Finding['status'], string> = { ok: '✔', warn: '!', fail: '✘' };

/**
 * The major version of an installed PostgreSQL client tool (`<tool> --version`), or
 * undefined when it cannot be run. Never throws.
 */
export async function pgClientMajor(tool: string): Promise<number | undefined> {
  const result = await runCommand(tool, ['--version']).catch(() => undefined);
  if (!result || result.code !== 0) return undefined;
  const major = /\(PostgreSQL\)\s+(\d+)/.exec(result.stdout)?.[1];
  return major === undefined ? undefined : Number(major);
}

/** The findings as a table for people: one line per check, the fix under each that needs one. */
export function renderFindings(report: DoctorReport): string {
  const width = Math.max(...report.findings.map((finding) => finding.check.length));
  const lines = [`Doctor: database ${report.database}`];
  for (const finding of report.findings) {
    lines.push(`  ${MARK[finding.status]} ${finding.check.padEnd(width)}  ${finding.detail}`);
    if (finding.fix) lines.push(`    ${' '.repeat(width)}  fix: ${finding.fix}`);
  }
  const failed = report.findings.filter((finding) => finding.status === 'fail').length;
  const warned = report.findings.filter((finding) => finding.status === 'warn').length;
  lines.push(report.healthy ? `Healthy${warned ? ` (${warned} warning${warned > 1 ? 's' : ''})` : ''}.` : `NOT healthy: ${failed} failed, ${warned} warning${warned === 1 ? '' : 's'}.`);
  return lines.join('\n');
}

/** Runs `strongbox doctor`; exit 0 when healthy (warnings allowed), 1 otherwise. */
export async function doctorCommand(flags: DoctorFlags, out: Output): Promise<number> {
  return withSession(out, async ({ context, config, env }) => {
    const target = resolveDatabase({ name: flags.database, url: flags.databaseUrl }, config, env, context.paths);
    const host = walHostPaths(context.paths, target.name);
    const endpoint: EndpointProbe = existsSync(host.config)
      ? await endpointProbeFromHostConfig(host.config, target.name)
      : {
          url: '(not configured)',
          health: async () => ({ reachable: false, detail: `no host config at ${host.config}` }),
          fetchProbe: async () => 'no host config',
        };
    const report = await runDoctor(
      { server: pgWalServer, clientMajor: pgClientMajor, log: context.log, clock: context.clock },
      {
        database: target.name,
        connection: target.connection,
        expected: { archiveCommand: host.archiveCommand, restoreCommand: host.restoreCommand },
        endpoint,
      },
    );
    printResult(out, { database: report.database, healthy: report.healthy, findings: report.findings }, renderFindings(report));
    return report.healthy ? 0 : 1;
  });
}

/** Registers `doctor` on the program. */
export function registerDoctor(program: Command, run: CommandRunner): void {
  program
    .command('doctor')
    .description('check that WAL archiving works end to end (settings, rights, tools, endpoint, a real round trip)')
    .option('--database <name>', 'a database from strongbox.config.json (or "demo" in local mode)')
    .option('--database-url <url>', 'postgresql://user@host:port/db — no password here: use DATABASE_URL or PGPASSFILE')
    .option('--json', 'print one JSON document')
    .addHelpText('after', '\nExit code: 0 healthy (warnings allowed), 1 something to fix (each finding says how).\n\nExamples:\n  strongbox doctor --database app\n  strongbox doctor --json\n')
    .action(async (flags: DoctorFlags) => run((out) => doctorCommand(flags, out), Boolean(flags.json)));
}
