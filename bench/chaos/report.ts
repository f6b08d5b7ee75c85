/** The chaos run's printed report (stdout): faults by kind, what was checked, every finding. Returns the exit code. */
import type { FaultCounts } from './faults';
import type { StrongboxInstance } from './instance';
import type { Verified } from './verify';

const list = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'none';

/** Prints the report; 1 when anything was lost, misreported or left behind, else 0. */
export function printReport(input: Verified & {
  seed: number;
  minutes: number;
  counts: FaultCounts;
  instance: StrongboxInstance;
  load?: { bulkInserts: number; pgbenchOk: boolean };
  walSegments: number;
  disk: boolean;
  settleSeconds: number;
}): number {
  const { counts, segments, backups, findings, pitr } = input;
  const total = Object.values(counts.injected).reduce((a, b) => a + b, 0);
  const lines = [
    `Strongbox chaos run: seed ${input.seed}, ${input.minutes} min of faults under load (repeat: npm run chaos -- --minutes ${input.minutes} --seed ${input.seed})`,
    `  faults injected    ${total}: ${list(counts.injected)}${input.disk ? '' : ' (no disk-full: not root)'}`,
    `  processes killed   ${list(counts.killed)}`,
    `  faults that missed ${list(counts.missed)} (nothing of that kind running at that moment)`,
    `  backups killed     ${counts.backups.killed}; finished before their kill: ${list(counts.backups.finishedFirst)}`,
    `  npm start          ${input.instance.starts} starts, ${input.instance.failedStarts} not ready when waited for (killed while starting, or failed)`,
    `  load               ${input.load?.bulkInserts ?? '?'} bulk INSERTs + pgbench -R 20 (${input.load?.pgbenchOk ? 'ok' : 'pgbench failed'}); ${input.walSegments.toFixed(0)} segments of WAL written`,
    `  settled            in ${input.settleSeconds.toFixed(0)} s (queue empty, catalog complete, backups final, one clean restart)`,
    `  segments           ${segments.recorded} recorded, ${segments.identical} byte-identical to pg_wal, ${segments.notInPgWal} no longer in pg_wal; PostgreSQL marked ${segments.doneByPostgres} done; ${segments.ranges} range(s) in the catalog`,
    `  backups            ${list(backups.byState)}; ${backups.readBack} VERIFIED read back with their SHA-256 (${(backups.readBackBytes / 1e6).toFixed(1)} MB)`,
    `  failed backups     ${list(backups.failedBecause)}`,
    `  status             exit ${input.status.code}, ${input.status.gaps} gap(s) reported`,
    `  pitr --latest      ${pitr.ok ? `promoted after ${pitr.seconds?.toFixed(1)} s, fingerprint equal to the source's (${pitr.fingerprint})` : `FAILED: ${pitr.error ?? `fingerprint ${pitr.fingerprint}`}`}`,
    `  repository .tmp/   ${input.temp.files.length} file(s) left`,
    `  lost               ${findings.lost.length}`,
    ...findings.lost.map((f) => `    - ${f}`),
    `  misreported        ${findings.misreported.length}`,
    ...findings.misreported.map((f) => `    - ${f}`),
    `  left behind        ${findings.leftBehind.length}`,
    ...findings.leftBehind.map((f) => `    - ${f}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return findings.lost.length + findings.misreported.length + findings.leftBehind.length ? 1 : 0;
}
