import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../../shared/adapters/postgres/client';
import { CopyInQuery, CopyOutStream } from '../../shared/adapters/postgres/copy-stream';
import { startTestCluster, type TestCluster } from '../support/pg';

// The COPY sub-protocol on node-postgres (copy-stream.ts), against a real server.
let cluster: TestCluster;
let source: pg.Client;
let target: pg.Client;
const ROWS = 60_000;

beforeAll(async () => {
  cluster = await startTestCluster({});
  await cluster.cluster.createDatabase('src');
  await cluster.cluster.createDatabase('dst');
  source = await connectClient(cluster.cluster.connection('src'));
  target = await connectClient(cluster.cluster.connection('dst'));
  await source.query(`CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t SELECT i, repeat(md5(i::text), 4) || E'\\ttab ünï' FROM generate_series(1, ${ROWS}) i`);
  await target.query('CREATE TABLE t (id int PRIMARY KEY, note text)');
});
afterAll(async () => {
  await source?.end();
  await target?.end();
  await cluster?.stop();
});

const checksum = async (client: pg.Client) => (await client.query<{ md5: string }>('SELECT md5(string_agg(id || note, \',\' ORDER BY id)) AS md5 FROM t')).rows[0]?.md5;

describe('COPY through node-postgres', () => {
  it('streams every row from one database to another', async () => {
    const out = source.query(new CopyOutStream('COPY (SELECT id, note FROM t) TO STDOUT'));

    const copied = await target.query(new CopyInQuery('COPY t (id, note) FROM STDIN', out)).done;

    expect(copied).toBe(ROWS);
    expect(out.rows).toBe(ROWS);
    expect(await checksum(target)).toBe(await checksum(source));
    await target.query('TRUNCATE t');
  });

  it('a slow reader pauses the source: the buffer stays bounded, whatever the table\'s size', async () => {
    const out = source.query(new CopyOutStream('COPY (SELECT id, note FROM t) TO STDOUT'));
    let bytes = 0;
    let buffered = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        buffered = Math.max(buffered, out.readableLength);
        setImmediate(done);
      },
    });

    await pipeline(out, slow);

    expect(bytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(buffered).toBeGreaterThan(0);
    expect(buffered).toBeLessThan(2 * 1024 * 1024);
  });

  it('a source failing midway: COPY FROM is cancelled with the source\'s error, nothing is written, the session still works', async () => {
    async function* failing() {
      yield Buffer.from('1\tone\n2\ttwo\n');
      throw new Error('the scratch database went away');
    }

    await target.query('BEGIN');
    const error = await target.query(new CopyInQuery('COPY t (id, note) FROM STDIN', Readable.from(failing()))).done.catch((e: unknown) => e);
    await target.query('ROLLBACK');

    expect(error).toMatchObject({ message: 'the scratch database went away' });
    expect((await target.query('SELECT count(*)::int AS n FROM t')).rows[0]).toEqual({ n: 0 });
  });

  it('the target refusing a row: the server\'s error, the source stopped, both sessions still work', async () => {
    await target.query("INSERT INTO t VALUES (30000, 'already here')");
    const out = source.query(new CopyOutStream('COPY (SELECT id, note FROM t ORDER BY id) TO STDOUT'));

    const error = await target.query(new CopyInQuery('COPY t (id, note) FROM STDIN', out)).done.catch((e: unknown) => e);

    expect(error).toMatchObject({ code: '23505', message: expect.stringContaining('duplicate key value violates unique constraint "t_pkey"') });
    expect(out.destroyed).toBe(true);
    expect((await target.query('SELECT count(*)::int AS n FROM t')).rows[0]).toEqual({ n: 1 });
    expect((await source.query('SELECT count(*)::int AS n FROM t')).rows[0]).toEqual({ n: ROWS });
  });

  it('a COPY TO that fails on the server destroys the stream with the server\'s error', async () => {
    const out = source.query(new CopyOutStream('COPY (SELECT id / (id - 500) FROM t ORDER BY id) TO STDOUT'));

    const error = await pipeline(out, new Writable({ write: (_c, _e, done) => done() })).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: '22012', message: 'division by zero' });
    expect((await source.query('SELECT 1 AS ok')).rows[0]).toEqual({ ok: 1 });
  });
});
