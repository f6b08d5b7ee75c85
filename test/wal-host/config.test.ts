import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_ENV, loadHostConfig, parseHostConfig } from '../../shared/wal-host/config';
import type { StrongboxError } from '../../shared/errors';
import { removeDir, tempDir } from './harness';

const minimal = { database: 'app', endpoint: 'http://127.0.0.1:7450', auth: { type: 'token', tokenFile: '/abs/archive.token' }, spool: '/abs/spool/app' };

function failure(action: () => unknown): StrongboxError {
  try {
    action();
  } catch (error) {
    return error as StrongboxError;
  }
  throw new Error('expected a throw');
}

describe('parseHostConfig', () => {
  it('fills the defaults of the documented minimal config', () => {
    // Act
    const config = parseHostConfig(JSON.stringify(minimal), '/abs/wal.json');

    // Assess
    expect(config).toMatchObject({ ...minimal, path: '/abs/wal.json', compression: 'zstd', timeoutMs: 30_000 });
    expect(config.uploader).toEqual({ concurrency: 4, idleExitMs: 30_000, scanIntervalMs: 200, markerTtlMs: 60_000 });
    expect(config.fetch).toEqual({ attempts: 5, retryDelayMs: 1_000, maxDelayMs: 8_000, prefetch: 8, prefetchConcurrency: 4, prefetchIdleMs: 10_000 });
  });

  it('accepts iam auth, tuning, and ignores unknown keys (a newer writer must not stop archiving)', () => {
    const config = parseHostConfig(JSON.stringify({ ...minimal, auth: { type: 'iam', region: 'eu-west-1' }, compression: 'gzip', fetch: { attempts: 2 }, future: true }), '/w.json');
    expect(config.auth).toEqual({ type: 'iam', region: 'eu-west-1' });
    expect(config.fetch.attempts).toBe(2);
    expect(config.fetch.prefetch).toBe(8);
    expect(config).not.toHaveProperty('future');
  });

  it.each([
    ['a relative spool', { ...minimal, spool: 'spool/app' }, /spool: must be an absolute path/],
    ['a relative token file', { ...minimal, auth: { type: 'token', tokenFile: 'archive.token' } }, /auth.tokenFile: must be an absolute path/],
    ['an unknown auth type', { ...minimal, auth: { type: 'password' } }, /auth/],
    ['an ftp endpoint', { ...minimal, endpoint: 'ftp://host' }, /endpoint: must be an http\(s\) URL/],
    ['a database name with a slash', { ...minimal, database: 'a/b' }, /database: use 1–63 letters/],
    ['an unknown compression', { ...minimal, compression: 'lz4' }, /compression: must be none, gzip or zstd/],
    ['a zero concurrency', { ...minimal, uploader: { concurrency: 0 } }, /uploader.concurrency: must be at least 1/],
    ['no endpoint', { ...minimal, endpoint: undefined }, /endpoint/],
  ])('refuses %s with CONFIG_INVALID naming the field', (_label, json, message) => {
    const error = failure(() => parseHostConfig(JSON.stringify(json), '/abs/wal.json'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(message);
    expect(error.message).toContain('/abs/wal.json');
  });

  it('refuses text that is not JSON', () => {
    expect(failure(() => parseHostConfig('{nope', '/abs/wal.json')).message).toMatch(/is not JSON/);
  });
});

describe('loadHostConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('sbx-walcfg-');
    await writeFile(join(dir, 'wal.json'), JSON.stringify(minimal));
  });
  afterAll(() => removeDir(dir));

  it('reads --config relative to the working directory (the data directory)', () => {
    expect(loadHostConfig({ flag: 'wal.json', cwd: dir, env: {} }).path).toBe(join(dir, 'wal.json'));
  });

  it(`falls back to ${CONFIG_ENV}, and the flag wins over it`, () => {
    expect(loadHostConfig({ env: { [CONFIG_ENV]: join(dir, 'wal.json') } }).database).toBe('app');
    const error = failure(() => loadHostConfig({ flag: join(dir, 'other.json'), env: { [CONFIG_ENV]: join(dir, 'wal.json') } }));
    expect(error.message).toContain('other.json');
  });

  it('says how to give a config when none is given', () => {
    const error = failure(() => loadHostConfig({ env: {} }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.hint).toContain(CONFIG_ENV);
  });

  it('names the missing file and its errno', () => {
    const error = failure(() => loadHostConfig({ flag: join(dir, 'missing.json'), env: {} }));
    expect(error.message).toMatch(/missing\.json \(ENOENT\)/);
  });
});
