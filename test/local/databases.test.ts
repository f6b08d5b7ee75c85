import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config';
import { demoConnectionFile, resolveDatabase } from '../../shared/local/databases';
import { resolveHome } from '../../shared/local/home';

const home = mkdtempSync(join(tmpdir(), 'sbx-db-'));
const paths = resolveHome({ STRONGBOX_HOME: home }, '/');
const noDemo = resolveHome({ STRONGBOX_HOME: join(home, 'empty') }, '/');
writeFileSync(demoConnectionFile(paths), JSON.stringify({ host: '127.0.0.1', port: 5999, user: 'postgres', database: 'demo', passfile: '/p' }));
const two = parseConfig({ databases: [{ name: 'app', url: 'postgresql://backup@db:5432/app', compression: 'zstd' }, { name: 'crm', url: 'postgresql://u@crm/crm' }] }, 'test');
const none = parseConfig({}, 'test');
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('which database a command is about', () => {
  it.each<[string, Parameters<typeof resolveDatabase>[0], typeof none, NodeJS.ProcessEnv, typeof paths, Record<string, unknown>]>([
    ['--database from the config', { name: 'app' }, two, {}, paths, { name: 'app', compression: 'zstd', connection: expect.objectContaining({ host: 'db', database: 'app' }) }],
    ['--compression overrides the config', { name: 'app', compression: 'gzip' }, two, {}, paths, { name: 'app', compression: 'gzip' }],
    ['--database-url names it after its database', { url: 'postgresql://me@h:1/shop' }, none, {}, paths, { name: 'shop', connection: expect.objectContaining({ port: 1 }) }],
    ['DATABASE_URL from the environment, password kept', {}, none, { DATABASE_URL: 'postgresql://me:pw@h/sales' }, paths, { name: 'sales', connection: expect.objectContaining({ password: 'pw' }) }],
    ['PGPASSWORD fills in a URL without password', { url: 'postgresql://me@h/shop' }, none, { PGPASSWORD: 'pw2' }, paths, { connection: expect.objectContaining({ password: 'pw2' }) }],
    ['the demo database of local mode', {}, none, {}, paths, { name: 'demo', connection: expect.objectContaining({ port: 5999, passfile: '/p' }) }],
    ['--database demo', { name: 'demo' }, none, {}, paths, { name: 'demo' }],
    ['--database matching DATABASE_URL (a local task child)', { name: 'sales' }, none, { DATABASE_URL: 'postgresql://me:pw@h/sales' }, noDemo, { name: 'sales' }],
  ])('%s', (_name, request, config, env, where, expected) => {
    expect(resolveDatabase(request, config, env, where)).toMatchObject(expected);
  });

  it.each<[string, Parameters<typeof resolveDatabase>[0], typeof none, typeof paths, RegExp]>([
    ['a password in --database-url', { url: 'postgresql://me:pw@h/shop' }, none, paths, /must not contain a password/],
    ['an unknown name', { name: 'nope' }, two, paths, /no database named "nope"/],
    ['several configured, none named', {}, two, paths, /several databases/],
    ['nothing at all', {}, none, noDemo, /no database to back up/],
  ])('refuses %s with a hint', (_name, request, config, where, message) => {
    expect(() => resolveDatabase(request, config, {}, where)).toThrowError(message);
  });
});
