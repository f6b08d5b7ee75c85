import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = resolve('bin/strongbox.js');

function run(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: '/tmp', encoding: 'utf8', env: { PATH: process.env.PATH } });
}

describe('strongbox wal-push / wal-fetch (archive_command / restore_command)', () => {
  it('wal-push exits 1 on any failure (PostgreSQL retries it), never above 125', () => {
    const result = run(['wal-push', 'pg_wal/000000010000000000000001', '--config', '/nonexistent/wal.json']);

    expect(result.status).toBe(1);
    expect(result.stderr).toContain('CONFIG_INVALID');
  });

  it('wal-fetch exits 200 when it cannot tell whether the file exists: recovery stops instead of promoting early', () => {
    const result = run(['wal-fetch', '000000010000000000000001', 'pg_wal/RECOVERYXLOG', '--config', '/nonexistent/wal.json']);

    expect(result.status).toBe(200);
  });

  it('refuses a name that is not a WAL file', () => {
    expect(run(['wal-fetch', '../../etc/passwd', 'pg_wal/RECOVERYXLOG', '--config', '/nonexistent/wal.json']).status).toBe(200);
  });
});
