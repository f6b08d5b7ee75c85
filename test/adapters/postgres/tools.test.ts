import { readdir, readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { exportCsv, spawnPgDump, spawnPgDumpall, toolVersion } from '../../../shared/adapters/postgres/tools';
import { seedSampleData, sampleRowCounts } from '../../../shared/adapters/postgres/sample-data';
import { DatabaseConnectionError, DumpError, InputError } from '../../../shared/errors';
import type { StrongboxError } from '../../../shared/errors';
import type { ToolStream } from '../../../shared/ports/postgres';
import { dumpedRowCounts, dumpedTableData, readAll, runWithInput, startTestCluster } from '../../support/pg';
import type { TestCluster } from '../../support/pg';

const PASSWORD = 'tools-s3cret-Pw';
const ROWS = 200;
let pg: TestCluster;

beforeAll(async () => {
  pg = await startTestCluster({ password: PASSWORD });
  await seedSampleData(pg.conn, { rows: ROWS });
  // ~30 MB of random text: more than the pipes, zstd and our buffer can hold, so a dump
  // that nobody reads stays blocked with pg_dump alive.
  await pg.cluster.psql(`
    CREATE TABLE public.bulk AS SELECT i, md5(random()::text) || md5(random()::text) || md5(random()::text) AS t FROM generate_series(1, 300000) i;
    CREATE TABLE public.tricky (id int, note text);
    INSERT INTO public.tricky VALUES (1, 'two
lines'), (2, 'a "quoted", comma'), (3, NULL), (4, '');
    CREATE ROLE app_reader LOGIN PASSWORD 'reader-pw';`);
});

afterAll(async () => {
  await pg?.stop();
});

/** Consumes a ToolStream and reports how it finished: data on 'end', or the error. */
function outcome(tool: ToolStream): Promise<{ ended: boolean; error?: StrongboxError; bytes: number }> {
  return new Promise((resolve) => {
    let bytes = 0;
    tool.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    tool.stdout.on('end', () => resolve({ ended: true, bytes }));
    tool.stdout.on('error', (error) => resolve({ ended: false, error: error as StrongboxError, bytes }));
  });
}

/** Child processes of this test process running `command`, with their argv and environment. */
async function childProcesses(command: string): Promise<Array<{ pid: number; argv: string[]; env: string[] }>> {
  const found = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      if (ppid !== process.pid || !argv[0]?.endsWith(command)) continue;
      const env = (await readFile(`/proc/${entry}/environ`, 'utf8')).split('\0');
      found.push({ pid: Number(entry), argv, env });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

describe('spawnPgDump', () => {
  it('streams a valid gzip custom-format archive', async () => {
    // Act
    const tool = spawnPgDump(pg.conn, { compression: 'gzip', tablePatterns: ['customers', '"Sales".orders'] });
    const dump = await readAll(tool.stdout);
    await tool.done;
    // Assess
    expect(dump.subarray(0, 5).toString()).toBe('PGDMP');
    expect(await dumpedRowCounts(dump)).toEqual({ 'public.customers': ROWS, '"Sales".orders': sampleRowCounts(ROWS).orders });
  });

  it('streams a zstd-compressed archive that pg_restore reads after zstd -d', async () => {
    // Act
    const tool = spawnPgDump(pg.conn, { compression: 'zstd' });
    const dump = await readAll(tool.stdout);
    await tool.done;
    // Assess
    expect(dump.subarray(0, 4).toString('hex')).toBe('28b52ffd');
    const archive = await runWithInput('zstd', ['-d', '-c'], dump);
    expect(await dumpedTableData(archive)).toEqual(
      ['Sales.orders', 'public.bulk', 'public.customers', 'public.events_2024_01', 'public.events_2024_02', 'public.tricky'].sort(),
    );
  });

  it('keeps the password out of argv and passes the connection in the environment', async () => {
    // Prepare
    const tool = spawnPgDump(pg.conn, { compression: 'zstd', tablePatterns: ['bulk'] });
    const first = await new Promise<Buffer>((resolve) => tool.stdout.once('data', resolve));
    tool.stdout.pause();
    // Act
    const [dump] = await childProcesses('pg_dump');
    tool.kill();
    await outcome(tool);
    // Assess
    expect(first.length).toBeGreaterThan(0);
    expect(dump).toBeDefined();
    expect(dump?.argv.join(' ')).not.toContain(PASSWORD);
    expect(dump?.argv.join(' ')).not.toContain(String(pg.conn.port));
    expect(dump?.env).toContain(`PGPASSWORD=${PASSWORD}`);
    expect(dump?.env).toContain(`PGPORT=${pg.conn.port}`);
  });

  it('destroys stdout with an error, never ending it, when killed mid-stream', async () => {
    // Prepare
    const tool = spawnPgDump(pg.conn, { compression: 'gzip', tablePatterns: ['bulk'] });
    const finished = outcome(tool);
    await new Promise((resolve) => tool.stdout.once('data', resolve));
    tool.stdout.pause();
    const running = await childProcesses('pg_dump');
    // Act
    tool.kill();
    const result = await finished;
    // Assess
    expect(running).toHaveLength(1);
    expect(result.ended).toBe(false);
    expect(result.error).toBeInstanceOf(DumpError);
    expect(result.error?.message).toMatch(/pg_dump .*killed/);
    await expect(tool.done).rejects.toBe(result.error);
    expect(await childProcesses('pg_dump')).toEqual([]);
  });

  it('kills pg_dump and zstd when the AbortSignal fires', async () => {
    // Prepare
    const controller = new AbortController();
    const tool = spawnPgDump(pg.conn, { compression: 'zstd', tablePatterns: ['bulk'], signal: controller.signal });
    const finished = outcome(tool);
    await new Promise((resolve) => tool.stdout.once('data', resolve));
    tool.stdout.pause();
    const running = [...(await childProcesses('pg_dump')), ...(await childProcesses('zstd'))];
    // Act
    controller.abort();
    const result = await finished;
    // Assess
    expect(running).toHaveLength(2);
    expect(result.ended).toBe(false);
    expect(result.error?.message).toMatch(/aborted/);
    expect(await childProcesses('pg_dump')).toEqual([]);
    expect(await childProcesses('zstd')).toEqual([]);
  });

  it('holds the tool back while the consumer does not read (no unbounded buffering)', async () => {
    // Prepare
    const tool = spawnPgDump(pg.conn, { compression: 'gzip', tablePatterns: ['bulk'] });
    await new Promise((resolve) => tool.stdout.once('data', resolve));
    tool.stdout.pause();
    // Act
    await new Promise((resolve) => setTimeout(resolve, 500));
    const buffered = tool.stdout.readableLength;
    const stillRunning = (await childProcesses('pg_dump')).length;
    tool.stdout.resume();
    const dump = await readAll(tool.stdout);
    await tool.done;
    // Assess
    expect(stillRunning).toBe(1);
    expect(buffered).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(dump.length).toBeGreaterThan(buffered + 1024 * 1024);
  });

  it.each([
    ['a wrong password', () => ({ ...pg.conn, password: 'wrong' }), 'DB_AUTH_FAILED'],
    ['a closed port', () => ({ ...pg.conn, port: 1 }), 'DB_UNREACHABLE'],
    ['a missing database', () => ({ ...pg.conn, database: 'missing_db' }), 'DB_NOT_FOUND'],
  ])('fails with %s as %s', async (_case, conn, code) => {
    // Act
    const tool = spawnPgDump(conn(), { compression: 'zstd' });
    const result = await outcome(tool);
    // Assess
    expect(result.ended).toBe(false);
    expect(result.error).toBeInstanceOf(DatabaseConnectionError);
    expect(result.error?.code).toBe(code);
    expect(result.error?.message).not.toContain(PASSWORD);
    await expect(tool.done).rejects.toHaveProperty('code', code);
  });

  it('fails with an InputError when a pattern matches nothing (--strict-names)', async () => {
    // Act
    const result = await outcome(spawnPgDump(pg.conn, { compression: 'gzip', tablePatterns: ['customers', 'no_such_table'] }));
    // Assess
    expect(result.error).toBeInstanceOf(InputError);
    expect(result.error?.message).toContain('no_such_table');
  });

  it('fails with a DumpError when pg_dump cannot be run', async () => {
    // Prepare
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    let result;
    try {
      // Act
      result = await outcome(spawnPgDump(pg.conn, { compression: 'gzip' }));
    } finally {
      process.env.PATH = path;
    }
    // Assess
    expect(result.error).toBeInstanceOf(DumpError);
    expect(result.error?.hint).toMatch(/postgresql-client/);
  });
});

describe('spawnPgDumpall', () => {
  it.each([
    [true, true],
    [false, false],
  ])('includeRolePasswords=%s → SCRAM verifiers present: %s', async (includeRolePasswords, expected) => {
    // Act
    const tool = spawnPgDumpall(pg.conn, { includeRolePasswords });
    const sql = (await readAll(tool.stdout)).toString();
    await tool.done;
    // Assess
    expect(sql).toContain('CREATE ROLE app_reader;');
    expect(sql.includes("PASSWORD 'SCRAM-SHA-256$")).toBe(expected);
  });

  it('maps a refused login', async () => {
    // Act
    const result = await outcome(spawnPgDumpall({ ...pg.conn, password: 'wrong' }, { includeRolePasswords: false }));
    // Assess
    expect(result.error?.code).toBe('DB_AUTH_FAILED');
  });
});

describe('exportCsv', () => {
  it('writes a header and every row, counting records with embedded newlines once', async () => {
    // Prepare
    const out = new PassThrough();
    const text = readAll(out);
    // Act
    const result = await exportCsv(pg.conn, 'public.tricky', out);
    // Assess
    expect(result).toEqual({ rows: 4 });
    expect((await text).toString()).toBe('id,note\n1,"two\nlines"\n2,"a ""quoted"", comma"\n3,\n4,""\n');
  });

  it('exports a partitioned table with its partitions rows', async () => {
    // Prepare
    const out = new PassThrough();
    const text = readAll(out);
    // Act
    const result = await exportCsv(pg.conn, 'events', out);
    // Assess
    expect(result.rows).toBe(sampleRowCounts(ROWS).events);
    expect((await text).toString().split('\n')[0]).toBe('id,occurred_at,kind,payload');
  });

  it.each([
    ['events_2024_0?', /matches 2 tables/],
    ['nothing_here', /no table of database "\w+" matches "nothing_here"/],
  ])('refuses %s', async (pattern, message) => {
    // Act / Assess
    await expect(exportCsv(pg.conn, pattern, new PassThrough())).rejects.toThrow(message);
    await expect(exportCsv(pg.conn, pattern, new PassThrough())).rejects.toBeInstanceOf(InputError);
  });

  it('maps a refused login', async () => {
    // Act / Assess
    await expect(exportCsv({ ...pg.conn, password: 'wrong' }, 'customers', new PassThrough())).rejects.toHaveProperty('code', 'DB_AUTH_FAILED');
  });
});

describe('toolVersion', () => {
  it.each(['pg_dump', 'pg_restore', 'pg_dumpall'] as const)('reads the version of %s', async (tool) => {
    // Act
    const version = await toolVersion(tool);
    // Assess
    expect(version).toMatch(/^15\.\d+$/);
  });
});
