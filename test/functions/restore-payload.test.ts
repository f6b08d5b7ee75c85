/**
 * The `sls invoke` payloads (shared/domain/invoke): table driven, pure, no mocks.
 */
import { describe, expect, it } from 'vitest';
import { executionName } from '../../shared/domain/invoke/execution';
import { JOB_VARIABLE, readJob } from '../../shared/domain/invoke/job';
import { credentialProblems } from '../../shared/domain/invoke/problems';
import { parseRestorePayload } from '../../shared/domain/invoke/restore';
import { parseRestoreTablePayload } from '../../shared/domain/invoke/restore-table';
import { parseValidatePayload } from '../../shared/domain/invoke/validate';
import { InputError } from '../../shared/errors';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/app-AbCdEf';
const RESTORE = { backupId: 'latest', database: 'app', target: { secretArn: SECRET }, confirm: 'app' };

function problemsOf(parse: (raw: unknown) => unknown, raw: unknown): string {
  try {
    parse(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  throw new Error('expected the payload to be refused');
}

describe('restore payload', () => {
  it.each([
    ['latest, confirmed', RESTORE],
    ['an id, another target database, all options', { ...RESTORE, backupId: '20261124T030000Z-l-abc123', target: { secretArn: SECRET, database: 'app_copy' }, confirm: 'app_copy', jobs: 8, dropFirst: true }],
    ['a partial secret ARN in the GovCloud partition', { ...RESTORE, target: { secretArn: 'arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:db' } }],
    ['a dry run without confirm', { backupId: 'latest', database: 'app', target: { secretArn: SECRET }, dryRun: true }],
  ])('accepts %s', (_name, raw) => {
    expect(parseRestorePayload(raw)).toEqual(raw);
  });

  it.each([
    ['no payload', undefined, ['(payload): Invalid input: expected object']],
    ['missing confirm', { ...RESTORE, confirm: undefined }, ['confirm: required: repeat the target database name ("app")']],
    ['confirm of the backed-up name when the target differs', { ...RESTORE, target: { secretArn: SECRET, database: 'other' } }, ['confirm: "app" is not the target database name "other"']],
    ['confirm not a string', { ...RESTORE, confirm: true }, ['confirm: must be a string']],
    ['a wrong dry-run confirm', { ...RESTORE, confirm: 'ap', dryRun: true }, ['confirm: "ap" is not the target database name "app"']],
    ['wrong types', { ...RESTORE, jobs: '4', dropFirst: 'yes', dryRun: 1 }, ['jobs: Invalid input: expected number', 'dropFirst: Invalid input: expected boolean', 'dryRun: Invalid input: expected boolean']],
    ['too many jobs', { ...RESTORE, jobs: 65 }, ['jobs: Too big']],
    ['a fractional jobs', { ...RESTORE, jobs: 1.5 }, ['jobs: Invalid input: expected int']],
    ['a bad backup id', { ...RESTORE, backupId: '2026-11-24' }, ['backupId: must be "latest" or a backup id']],
    ['a bad database name', { ...RESTORE, database: 'a/b' }, ['database: must be 1-63 letters']],
    ['a target URL instead of a secret', { ...RESTORE, target: { secretArn: SECRET, url: 'postgresql://app@db/app' } }, ['target: Unrecognized key: "url"']],
    ['a secret that is not a Secrets Manager ARN', { ...RESTORE, target: { secretArn: 'arn:aws:ssm:eu-west-1:123456789012:parameter/db' } }, ['target.secretArn: must be a Secrets Manager secret ARN']],
    ['a password next to the secret', { ...RESTORE, target: { secretArn: SECRET, password: 'hunter2' } }, ['target.password: passwords are refused']],
    ['a PGPASSWORD at the top', { ...RESTORE, PGPASSWORD: 'hunter2' }, ['PGPASSWORD: passwords are refused']],
    ['a password inside a URL in an unknown field', { ...RESTORE, note: 'postgres://u:hunter2@db/app' }, ['note: a connection string with a password', 'Unrecognized key: "note"']],
  ])('refuses %s, naming every problem', (_name, raw, expected) => {
    const message = problemsOf(parseRestorePayload, raw);
    for (const problem of expected) expect(message).toContain(problem);
    expect(message).not.toContain('hunter2');
  });

  it('lists all problems of one payload in one error', () => {
    const message = problemsOf(parseRestorePayload, { backupId: 1, database: 2, target: {}, jobs: 0 });
    expect(message).toMatch(/^restore payload is invalid \(\d+ problems\): /);
    for (const problem of ['backupId:', 'database:', 'target.secretArn:', 'jobs:', 'confirm: required']) expect(message).toContain(problem);
  });
});

describe('restore-table and validate payloads', () => {
  it.each([
    ['side-by-side by default', { ...RESTORE, table: 'public.orders' }, { ...RESTORE, table: 'public.orders', mode: 'side-by-side' }],
    ['a quoted pattern, replace', { ...RESTORE, table: '"Sales".*', mode: 'replace' }, { ...RESTORE, table: '"Sales".*', mode: 'replace' }],
    ['recreate (a dropped table)', { ...RESTORE, table: 'public.orders', mode: 'recreate' }, { ...RESTORE, table: 'public.orders', mode: 'recreate' }],
  ])('restore-table accepts %s', (_name, raw, expected) => {
    expect(parseRestoreTablePayload(raw)).toEqual(expected);
  });

  it.each([
    ['no table', RESTORE, ['table: Invalid input: expected string']],
    ['an unterminated quote', { ...RESTORE, table: '"Sales.orders' }, ['table: must be a table pattern']],
    ['a mode it does not know, and jobs', { ...RESTORE, table: 'orders', mode: 'merge', jobs: 2 }, ['mode: Invalid option', 'Unrecognized key: "jobs"']],
    ['no confirm', { ...RESTORE, confirm: undefined, table: 'orders' }, ['confirm: required']],
  ])('restore-table refuses %s', (_name, raw, expected) => {
    const message = problemsOf(parseRestoreTablePayload, raw);
    for (const problem of expected) expect(message).toContain(problem);
  });

  it.each([
    ['nothing (latest of any database)', undefined, { backupId: 'latest' }],
    ['an empty object', {}, { backupId: 'latest' }],
    ['a database', { database: 'app' }, { backupId: 'latest', database: 'app' }],
    ['an id, dry run', { backupId: '20261124T030000Z-l-abc123', dryRun: true }, { backupId: '20261124T030000Z-l-abc123', dryRun: true }],
  ])('validate accepts %s', (_name, raw, expected) => {
    expect(parseValidatePayload(raw)).toEqual(expected);
  });

  it.each([
    ['a target (a drill never restores into a given server)', { target: { secretArn: SECRET } }, ['Unrecognized key: "target"']],
    ['a password', { password: 'x' }, ['password: passwords are refused']],
    ['wrong types', { backupId: 5, database: true }, ['backupId: Invalid input: expected string', 'database: Invalid input: expected string']],
  ])('validate refuses %s', (_name, raw, expected) => {
    const message = problemsOf(parseValidatePayload, raw);
    for (const problem of expected) expect(message).toContain(problem);
  });
});

describe('credentials, job variable and execution names', () => {
  it.each([
    [{ a: { b: [{ Password: 'x' }] } }, ['a.b.0.Password: passwords are refused; credentials are secret references only (target.secretArn)']],
    [{ dbPassword: 'x', pwd: 'y', passwd: 'z' }, ['dbPassword:', 'pwd:', 'passwd:']],
    [{ url: 'mysql://root:x@h' }, ['url: a connection string with a password']],
    [{ url: 'postgresql://app@db:5432/app', secretArn: SECRET, passage: 'fine' }, []],
  ])('credentialProblems(%j)', (raw, expected) => {
    const problems = credentialProblems(raw);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((prefix, i) => expect(problems[i]).toContain(prefix));
  });

  it('reads the job from STRONGBOX_JOB, or refuses it', () => {
    expect(readJob({ [JOB_VARIABLE]: '{"database":"app"}' }, parseValidatePayload)).toEqual({ backupId: 'latest', database: 'app' });
    expect(() => readJob({}, parseValidatePayload)).toThrow(/STRONGBOX_JOB is not set/);
    expect(() => readJob({ [JOB_VARIABLE]: '{' }, parseValidatePayload)).toThrow(/not JSON/);
    expect(() => readJob({ [JOB_VARIABLE]: '{"password":"x"}' }, parseValidatePayload)).toThrow(InputError);
  });

  it.each([
    ['restore', '20261124T030000Z-l-abc123', 'restore-20261124T030000Z-l-abc123-20261124093000'],
    ['validate', 'app.db', 'validate-app-db-20261124093000'],
    ['restore-table', 'x'.repeat(100), `restore-table-${'x'.repeat(51)}-20261124093000`],
  ] as const)('executionName(%s, %s) is %s (≤ 80 characters)', (kind, subject, expected) => {
    const name = executionName(kind, subject, new Date('2026-11-24T09:30:00.000Z'));
    expect(name).toBe(expected);
    expect(name.length).toBeLessThanOrEqual(80);
  });
});
