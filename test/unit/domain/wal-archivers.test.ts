import { describe, expect, it } from 'vitest';
import { archiverDecision, ARCHIVERS_MAX_BYTES, encodeArchivers, parseArchivers, roleOfCaller } from '../../../shared/domain/wal/archivers';

const RULES = parseArchivers('db-host=app,billing;shop-host=shop-*;crm-host=crm');

describe('archiver rules (STRONGBOX_ARCHIVERS)', () => {
  it.each([
    ['db-host', 'app', 'allowed'],
    ['db-host', 'billing', 'allowed'],
    ['db-host', 'crm', 'forbidden'],
    ['crm-host', 'app', 'forbidden'],
    ['shop-host', 'shop-eu-1', 'allowed'],
    ['db-host', 'shop-eu-1', 'forbidden'],
    ['db-host', 'ledger', 'not-served'],
    [undefined, 'app', 'forbidden'],
    [undefined, 'ledger', 'not-served'],
    ['unknown-role', 'app', 'forbidden'],
  ] as const)('role %s on database %s is %s', (role, database, expected) => {
    expect(archiverDecision(RULES, role, database)).toBe(expected);
  });

  it.each([
    ['arn:aws:sts::123456789012:assumed-role/strongbox-db-host/i-0abc', 'strongbox-db-host'],
    ['arn:aws-cn:sts::123456789012:assumed-role/r/s', 'r'],
    ['arn:aws:iam::123456789012:user/alice', undefined],
    ['arn:aws:sts::123456789012:assumed-role/no-session', undefined],
    [undefined, undefined],
  ])('the caller %s is role %s', (arn, role) => {
    expect(roleOfCaller(arn)).toBe(role);
  });

  it.each([['app'], ['db-host'], ['db-host='], ['db host=app'], ['db-host=../x'], ['db-host=a=b']])('refuses the malformed value %j', (text) => {
    expect(() => parseArchivers(text)).toThrow(/STRONGBOX_ARCHIVERS is invalid/);
  });

  it('encodes the configured databases grouped by role (ARN or name, else the default role), and parses back', () => {
    // Act
    const text = encodeArchivers([{ name: 'app' }, { name: 'crm', archiverRole: 'arn:aws:iam::123456789012:role/hosts/crm-host' }, { name: 'billing' }], 'arn:aws:iam::123456789012:role/db-host');
    // Assess
    expect(text).toBe('db-host=app,billing;crm-host=crm');
    expect(archiverDecision(parseArchivers(text), 'crm-host', 'crm')).toBe('allowed');
  });

  it('fits 200 databases of 12 characters, and refuses a map over its budget with a hint about prefixes', () => {
    // Prepare
    const many = (length: number) => Array.from({ length: 200 }, (_, i) => ({ name: `db${String(i).padStart(length - 2, '0')}` }));
    // Act
    const fits = encodeArchivers(many(12), 'db-host');
    // Assess
    expect(Buffer.byteLength(fits)).toBeLessThanOrEqual(ARCHIVERS_MAX_BYTES);
    expect(() => encodeArchivers(many(20), 'db-host')).toThrow(expect.objectContaining({ hint: expect.stringContaining('prefix') }));
    expect(() => encodeArchivers([{ name: 'app' }])).toThrow(/no archiver role/);
  });
});
