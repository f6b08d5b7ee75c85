import { describe, it, expect } from 'vitest';
import { mapPgError, mapToolFailure } from '../../../shared/adapters/postgres/errors';
import { DatabaseConnectionError, DumpError, InputError, StrongboxError } from '../../../shared/errors';

const conn = { host: 'db', port: 5432, user: 'app', database: 'shop', password: 'hunter2' };

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('mapPgError', () => {
  it.each([
    [pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), 'DB_UNREACHABLE'],
    [pgError('ENOTFOUND', 'getaddrinfo ENOTFOUND db'), 'DB_UNREACHABLE'],
    [pgError('ETIMEDOUT', 'connect ETIMEDOUT'), 'DB_UNREACHABLE'],
    [pgError('EHOSTUNREACH', 'connect EHOSTUNREACH'), 'DB_UNREACHABLE'],
    [Object.assign(new AggregateError([pgError('ECONNREFUSED', 'a'), pgError('ECONNREFUSED', 'b')]), {}), 'DB_UNREACHABLE'],
    [new Error('Connection terminated due to connection timeout'), 'DB_UNREACHABLE'],
    [pgError('28P01', 'password authentication failed for user "app"'), 'DB_AUTH_FAILED'],
    [pgError('28000', 'no pg_hba.conf entry for host'), 'DB_AUTH_FAILED'],
    [new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a non-empty string'), 'DB_AUTH_FAILED'],
    [pgError('3D000', 'database "shop" does not exist'), 'DB_NOT_FOUND'],
    [pgError('42P01', 'relation "x" does not exist'), 'DUMP_FAILED'],
    [new Error('canceling statement due to statement timeout'), 'DUMP_FAILED'],
  ])('maps %s to %s', (error, code) => {
    // Act
    const mapped = mapPgError(error, conn);
    // Assess
    expect(mapped.code).toBe(code);
    expect(mapped).toBeInstanceOf(code === 'DUMP_FAILED' ? DumpError : DatabaseConnectionError);
    expect(mapped.cause).toBe(error);
    expect(mapped.message).toContain('postgresql://app@db:5432/shop');
    expect(mapped.message + mapped.hint).not.toContain('hunter2');
  });

  it('passes StrongboxErrors through', () => {
    // Prepare
    const error = new InputError('bad', 'fix it');
    // Act / Assess
    expect(mapPgError(error, conn)).toBe(error);
  });

  it('hints at PGPASSFILE on refused logins', () => {
    // Act
    const mapped = mapPgError(pgError('28P01', 'password authentication failed'), conn);
    // Assess
    expect(mapped.hint).toMatch(/PGPASSFILE/);
  });
});

describe('mapToolFailure', () => {
  it.each([
    ['pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n\tIs the server running on that host?', 'DB_UNREACHABLE'],
    ['pg_dump: error: could not translate host name "x" to address: Name or service not known', 'DB_UNREACHABLE'],
    ['pg_dump: error: connection to server failed: FATAL:  password authentication failed for user "app"', 'DB_AUTH_FAILED'],
    ['pg_dump: error: connection to server failed: fe_sendauth: no password supplied', 'DB_AUTH_FAILED'],
    ['psql: error: connection to server failed: FATAL:  role "nobody" does not exist', 'DB_AUTH_FAILED'],
    ['pg_dump: error: connection to server failed: FATAL:  database "shop" does not exist', 'DB_NOT_FOUND'],
    ['pg_dump: error: no matching tables were found for pattern "nope"', 'INPUT_INVALID'],
    ['pg_dump: error: query failed: ERROR:  relation "x" does not exist', 'DUMP_FAILED'],
    ['', 'DUMP_FAILED'],
  ])('maps %j to %s', (stderr, code) => {
    // Act
    const mapped = mapToolFailure('pg_dump', 'exited with code 1', stderr, conn);
    // Assess
    expect(mapped).toBeInstanceOf(StrongboxError);
    expect(mapped.code).toBe(code);
    expect(mapped.message).toContain('pg_dump exited with code 1 (postgresql://app@db:5432/shop)');
    expect(mapped.message).toContain(stderr.trim());
  });
});
