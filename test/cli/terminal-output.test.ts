/**
 * Terminal output (issue 13, item 9): log lines and alerts share stderr with the progress
 * line without landing on its end; alerts read as text on a terminal, JSON elsewhere.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { endProgress, processOutput, type Output } from '../../shared/cli/output';
import { phaseProgressPrinter } from '../../shared/cli/phase-progress';
import { withSession } from '../../shared/cli/session';
import { stderrLines } from '../../shared/cli/stderr-lines';
import { stderrLog } from '../../shared/local/stderr-log';
import type { Alert } from '../../shared/ports';

const ALERT: Alert = {
  type: 'BACKUP_FAILED',
  severity: 'SEV2',
  message: 'backup 20261124T030000Z-l-1a2b3c of app FAILED: pg_dump exited with code 1:\npg_dump: error: connection lost',
  hint: 'read the task log',
  database: 'app',
  backupId: '20261124T030000Z-l-1a2b3c',
  code: 'DUMP_FAILED',
  at: '2026-11-24T03:30:00Z',
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the process's stderr (processOutput)", () => {
  it('a log line written during a download starts on a line of its own; the progress goes on below it', () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    const out = { ...processOutput(false), interactive: true };
    const progress = phaseProgressPrinter(out, 'restore demo')!;
    const log = stderrLog(true, out.stderr);

    progress({ phase: 'download', bytes: 199_300, totalBytes: 199_300 });
    log.info('restore dump verified', { backupId: 'x' });
    progress({ phase: 'check' });
    endProgress(out);
    endProgress(out);

    const text = written.join('');
    expect(text).not.toMatch(/kB *\{"time"/);
    expect(text).toMatch(/\rrestore demo: download 199\.3 kB of 199\.3 kB *\n\{"time":"[^"]+","level":"INFO","message":"restore dump verified","backupId":"x"\}\n\rrestore demo: check *\n$/);
  });
});

describe('stderrLines', () => {
  function capture() {
    const written: string[] = [];
    return { written, lines: stderrLines((text) => void written.push(text)) };
  }

  it('ends an open progress line before other text, once; a text starting with a newline needs none', () => {
    const { written, lines } = capture();
    lines.write('\rdownload 1 kB');
    lines.write('\rdownload 2 kB');
    lines.write('WARNING: slow\n');
    lines.write('ALERT …\n');
    lines.write('\rcheck');
    lines.write('\n');
    expect(written.join('')).toBe('\rdownload 1 kB\rdownload 2 kB\nWARNING: slow\nALERT …\n\rcheck\n');
  });

  it('endProgress writes a newline only when a progress line is open', () => {
    const { written, lines } = capture();
    lines.endProgress();
    lines.write('\rverify');
    lines.endProgress();
    lines.endProgress();
    expect(written).toEqual(['\rverify', '\n']);
  });
});

describe("a command's session: logs and alerts go through the command's stderr", () => {
  let dir: string;
  let saved: NodeJS.ProcessEnv;
  const cwd = process.cwd();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sbx-terminal-'));
    saved = { ...process.env };
    process.env.STRONGBOX_HOME = join(dir, 'state');
    delete process.env.STRONGBOX_CONFIG;
    delete process.env.STRONGBOX_SLACK_WEBHOOK_URL;
    delete process.env.DATABASE_URL;
    process.chdir(dir);
  });
  afterAll(async () => {
    process.chdir(cwd);
    process.env = saved;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function terminal(json: boolean, interactive: boolean): Output & { err: string[] } {
    const err: string[] = [];
    return { json, interactive, err, stdout: () => undefined, stderr: (text) => void err.push(text) };
  }

  it('on a terminal: the log line and the alert in human form (severity, type, message, hint), every line of it indented', async () => {
    const out = terminal(false, true);
    await withSession(out, async ({ context }) => {
      context.log.info('restore planned', { backupId: 'x' });
      await context.alerts.publish(ALERT);
    });
    const text = out.err.join('');
    expect(text).toContain('"message":"restore planned"');
    expect(text).not.toContain('ALERT {');
    expect(text).toContain(
      'ALERT SEV2 BACKUP_FAILED (Backup failed) database app, backup 20261124T030000Z-l-1a2b3c\n' +
        '  backup 20261124T030000Z-l-1a2b3c of app FAILED: pg_dump exited with code 1:\n' +
        '  pg_dump: error: connection lost\n' +
        '  HINT: read the task log\n',
    );
    expect(text).toContain('  retry: npx strongbox backup --database app\n');
  });

  it('not on a terminal, or with --json: the alert stays one JSON line', async () => {
    for (const out of [terminal(false, false), terminal(true, true)]) {
      await withSession(out, async ({ context }) => context.alerts.publish(ALERT));
      expect(out.err).toEqual([`ALERT ${JSON.stringify(ALERT)}\n`]);
    }
  });
});
