import { describe, it, expect } from 'vitest';
import { parseDatabaseUrl, passwordFromPassfile, pgEnv, redactConnection } from '../../../shared/domain/connection';
import { InputError } from '../../../shared/errors';
import type { PgConnection } from '../../../shared/ports/postgres';

describe('parseDatabaseUrl', () => {
  const valid: Array<[string, PgConnection]> = [
    ['postgresql://app@db.example.com/shop', { host: 'db.example.com', port: 5432, user: 'app', database: 'shop' }],
    ['postgres://app@db.example.com:6543/shop', { host: 'db.example.com', port: 6543, user: 'app', database: 'shop' }],
    ['postgresql://app:s%40cr%3At@127.0.0.1/shop', { host: '127.0.0.1', port: 5432, user: 'app', database: 'shop', password: 's@cr:t' }],
    ['postgresql://us%40er@h/My%20Db', { host: 'h', port: 5432, user: 'us@er', database: 'My Db' }],
    ['postgresql://app@h/shop?sslmode=verify-full', { host: 'h', port: 5432, user: 'app', database: 'shop', sslmode: 'verify-full' }],
    ['postgresql://app@[::1]:5433/shop', { host: '::1', port: 5433, user: 'app', database: 'shop' }],
    ['postgresql:///shop?host=/var/run/postgresql&user=app', { host: '/var/run/postgresql', port: 5432, user: 'app', database: 'shop' }],
    ['postgresql://app@h/shop?passfile=/run/secrets/pgpass', { host: 'h', port: 5432, user: 'app', database: 'shop', passfile: '/run/secrets/pgpass' }],
    ['  POSTGRESQL://app@h/shop  ', { host: 'h', port: 5432, user: 'app', database: 'shop' }],
  ];
  it.each(valid)('parses %s', (url, expected) => {
    // Act
    const parsed = parseDatabaseUrl(url);
    // Assess
    expect(parsed).toEqual(expected);
  });

  const invalid: Array<[string, RegExp]> = [
    ['mysql://app@h/shop', /must start with postgresql/],
    ['postgresql://app@h', /names no database/],
    ['postgresql://app@h/', /names no database/],
    ['postgresql://h/shop', /names no user/],
    ['postgresql://app@h:0/shop', /invalid port/],
    ['postgresql://app@h:99999/shop', /cannot be parsed/],
    ['postgresql://app@h/shop?sslmode=sometimes', /unknown sslmode/],
    ['postgresql://app@h/shop?options=-csearch_path', /unknown parameter "options"/],
    ['postgresql://app@h/a/b', /more than one path segment/],
    ['postgresql://app@h/%zz', /invalid percent-escape/],
    ['', /must start with postgresql/],
  ];
  it.each(invalid)('refuses %s', (url, message) => {
    // Act
    const act = () => parseDatabaseUrl(url);
    // Assess
    expect(act).toThrow(InputError);
    expect(act).toThrow(message);
  });

  it('never quotes the password in its error', () => {
    // Prepare
    const url = 'postgresql://app:hunter2@h:99999/shop';
    // Act
    let caught: unknown;
    try {
      parseDatabaseUrl(url);
    } catch (error) {
      caught = error;
    }
    // Assess
    expect(caught).toBeInstanceOf(InputError);
    const err = caught as InputError;
    expect(err.hint).toMatch(/PGPASSFILE/);
    // Node's URL errors carry the whole input in `input`: the cause must not be one of them.
    const cause = err.cause as object;
    expect(`${err.message} ${err.hint} ${JSON.stringify(cause, Object.getOwnPropertyNames(cause))}`).not.toContain('hunter2');
  });
});

describe('redactConnection', () => {
  it.each([
    [{ host: 'h', port: 5432, user: 'app', database: 'shop', password: 'hunter2' }, 'postgresql://app@h:5432/shop'],
    [{ host: '::1', port: 5433, user: 'us@er', database: 'My Db' }, 'postgresql://us%40er@[::1]:5433/My%20Db'],
  ])('redacts %o', (conn, expected) => {
    // Act
    const text = redactConnection(conn);
    // Assess
    expect(text).toBe(expected);
    expect(text).not.toContain('hunter2');
  });

  it('round-trips through parseDatabaseUrl without the password', () => {
    // Prepare
    const conn = { host: 'db', port: 6000, user: 'us@er', database: 'My Db', password: 'x' };
    // Act
    const back = parseDatabaseUrl(redactConnection(conn));
    // Assess
    expect(back).toEqual({ host: 'db', port: 6000, user: 'us@er', database: 'My Db' });
  });
});

describe('pgEnv', () => {
  it('describes a connection without optional parts', () => {
    // Act
    const env = pgEnv({ host: 'h', port: 5432, user: 'app', database: 'shop' });
    // Assess
    expect(env).toEqual({ PGHOST: 'h', PGPORT: '5432', PGUSER: 'app', PGDATABASE: 'shop', PGAPPNAME: 'strongbox', PGCONNECT_TIMEOUT: '10' });
  });

  it('adds password, passfile and sslmode when given', () => {
    // Act
    const env = pgEnv({ host: 'h', port: 1, user: 'u', database: 'd', password: 'pw', passfile: '/p', sslmode: 'require' });
    // Assess
    expect(env).toMatchObject({ PGPASSWORD: 'pw', PGPASSFILE: '/p', PGSSLMODE: 'require' });
  });
});

describe('passwordFromPassfile', () => {
  const conn = { host: 'db', port: 5432, user: 'app', database: 'shop' };
  it.each([
    ['db:5432:shop:app:pw1', 'pw1'],
    ['# comment\nother:5432:shop:app:no\n*:*:shop:app:pw2', 'pw2'],
    ['db:5432:*:*:with\\:colon:and:more', 'with:colon:and:more'],
    ['db:5432:shop:app:first\n*:*:*:*:second', 'first'],
    ['db:5433:shop:app:wrong-port', undefined],
    ['too:few:fields', undefined],
    ['', undefined],
  ])('reads %j', (text, expected) => {
    // Act
    const password = passwordFromPassfile(text, conn);
    // Assess
    expect(password).toBe(expected);
  });
});
