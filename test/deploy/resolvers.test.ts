import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import schedules from '../../deploy/schedules.json';
import { archiverDecision, encodeArchivers, parseArchivers } from '../../shared/domain/wal/archivers';

// The JavaScript resolvers serverless.yml reads the config file and the image through.
const require = createRequire(import.meta.url);
const ROOT = path.resolve(import.meta.dirname, '../..');

interface DatabaseOut { name: string; secretArn: string; schedule: string; compression?: string }
interface ScheduleResolvers {
  readConfig(file: string): { databases: DatabaseOut[]; watchdogSchedule: string; staleAfterSeconds: number; retention: Record<string, number> };
  packagedConfig(input: Resolve): Promise<string>;
  dispatchSchedule(): Promise<string>;
  secretResources(input: Resolve): Promise<string[]>;
  secretPatterns(databases: Array<{ name: string; secretArn: string }>, file: string): string[];
  retentionSchedule(): Promise<string>;
  retentionPolicy(input: Resolve): Promise<string>;
  archivers(input: Resolve): Promise<string>;
}
interface ImageResolvers {
  parseImageUri(uri: string): { account: string; region: string; repository: string; arn: string };
  image(input: Resolve): Promise<unknown>;
  repositoryArn(input: Resolve): Promise<unknown>;
  containerMemory(input: Resolve): Promise<number>;
}
interface Resolve { resolveVariable(name: string): Promise<string> }

const resolvers = require('../../deploy/schedules.cjs') as ScheduleResolvers;
const images = require('../../deploy/image.cjs') as ImageResolvers;
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/app-AbCdEf';

let dir: string;
let n = 0;
/** Writes `content` to a fresh config file and returns its absolute path. */
async function configFile(content: unknown): Promise<string> {
  const file = path.join(dir, `config-${n++}.json`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}
const variables = (values: Record<string, string>): Resolve => ({
  resolveVariable: async (name) => {
    if (!(name in values)) throw new Error(`unexpected variable ${name}`);
    return values[name]!;
  },
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'strongbox-resolvers-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('deploy/schedules.cjs', () => {
  it('fills in the default schedules and keeps the ones given', async () => {
    // Prepare
    const file = await configFile({ databases: [{ name: 'app', secretArn: SECRET }, { name: 'b.2', secretArn: SECRET, schedule: 'rate(6 hours)', compression: 'zstd', url: 'postgres://x@h/db' }] });
    // Act
    const config = resolvers.readConfig(file);
    // Assess
    expect(config).toEqual({
      databases: [
        { name: 'app', secretArn: SECRET, schedule: schedules.logicalBackup },
        { name: 'b.2', secretArn: SECRET, schedule: 'rate(6 hours)', compression: 'zstd' },
      ],
      watchdogSchedule: schedules.watchdog,
      staleAfterSeconds: 600,
      retention: {},
    });
  });

  it.each([
    ['a file that is not JSON', '{"databases": [', /is not valid JSON/],
    ['no databases', { databases: [] }, /"databases" must be a non-empty array/],
    ['a database without secretArn', { databases: [{ name: 'app', url: 'postgres://app@db/app' }] }, /databases\[0\] \("app"\) needs a "secretArn"/],
    ['a name that cannot be a path segment', { databases: [{ name: 'a/b', secretArn: SECRET }] }, /databases\[0\]\.name must be/],
    ['the same name twice', { databases: [{ name: 'app', secretArn: SECRET }, { name: 'app', secretArn: SECRET }] }, /databases\[1\]\.name "app" appears twice/],
    ['a five-field Unix cron', { databases: [{ name: 'app', secretArn: SECRET, schedule: 'cron(0 3 * * *)' }] }, /databases\[0\]\.schedule must be an EventBridge expression/],
    ['an unknown compression', { databases: [{ name: 'app', secretArn: SECRET, compression: 'xz' }] }, /compression must be "gzip" or "zstd"/],
    ['dumpJobs out of range', { databases: [{ name: 'app', secretArn: SECRET, dumpJobs: 0 }] }, /dumpJobs must be a whole number from 1 to 32/],
    ['a stale threshold under a minute', { databases: [{ name: 'app', secretArn: SECRET }], staleAfterSeconds: 5 }, /staleAfterSeconds must be/],
    ['a retention section that is not an object', { databases: [{ name: 'app', secretArn: SECRET }], retention: 30 }, /"retention" must be an object/],
    ['a misspelt retention field', { databases: [{ name: 'app', secretArn: SECRET }], retention: { dayliDays: 3 } }, /retention\.dayliDays is not a retention setting/],
    ['a negative retention window', { databases: [{ name: 'app', secretArn: SECRET }], retention: { dailyDays: -1 } }, /retention\.dailyDays must be a whole number/],
  ])('refuses %s, naming the file and how to fix it', async (_case, content, message) => {
    const file = await configFile(content);
    expect(() => resolvers.readConfig(file)).toThrow(message);
    expect(() => resolvers.readConfig(file)).toThrow(new RegExp(`^Strongbox config ${file.replace(/[.]/g, '\\.')}: .*HINT: `));
  });

  it('refuses a missing file, naming it, the example to copy and the ways to point at another', () => {
    const file = path.join(dir, 'absent.json');
    expect(() => resolvers.readConfig(file)).toThrow(
      new RegExp(`^No Strongbox config file at ${file.replace(/[.]/g, '\\.')}: .*HINT: create it from the example: cp deploy/example\\.config\\.json .*--param configFile=<path> or STRONGBOX_CONFIG=<path>`),
    );
  });

  it('packages each database with its schedule, secret and compression, and the stack-wide schedules, as an esbuild define value', async () => {
    const partial = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/other';
    const file = await configFile({ databases: [{ name: 'app', secretArn: SECRET, compression: 'zstd', dumpJobs: 4 }, { name: 'other', secretArn: partial, schedule: 'rate(6 hours)' }] });
    const resolve = variables({ 'param:configFile': file, 'sls:stage': 'prod' });

    const literal = await resolvers.packagedConfig(resolve);
    const secrets = await resolvers.secretResources(resolve);

    // A JavaScript string literal (what esbuild's define takes), holding the config's JSON.
    expect(JSON.parse(JSON.parse(literal) as string)).toEqual({
      databases: [
        { name: 'app', secretArn: SECRET, schedule: schedules.logicalBackup, compression: 'zstd', dumpJobs: 4 },
        { name: 'other', secretArn: partial, schedule: 'rate(6 hours)' },
      ],
      baseBackup: schedules.baseBackup,
      walCheckpoint: schedules.walCheckpoint,
      validation: 'cron(0 4 1 * ? *)',
    });
    expect(await resolvers.dispatchSchedule()).toBe('cron(* * * * ? *)');
    expect(secrets).toEqual([SECRET, `${partial}-??????`]);
  });
});

describe('deploy/schedules.cjs: secrets of many databases', () => {
  const secret = (path: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${path}`;
  const databases = (count: number, path: (i: number) => string) => Array.from({ length: count }, (_, i) => ({ name: `db${i}`, secretArn: secret(path(i)) }));

  it('grants up to 20 secrets one by one', () => {
    const list = databases(20, (i) => `strongbox/prod/db${i}-AbCdEf`);
    expect(resolvers.secretPatterns(list, 'f')).toEqual(list.map((db) => db.secretArn));
  });

  it('grants 200 secrets by their shared folders, each lone one exactly (partial ARNs matched)', () => {
    const list = [...databases(150, (i) => `strongbox/prod/db${i}-AbCdEf`), ...databases(49, (i) => `team-b/db${i}`), { name: 'x', secretArn: secret('lonely/x-AbCdEf') }];
    expect(resolvers.secretPatterns(list, 'f')).toEqual([secret('strongbox/prod/*'), secret('team-b/*'), secret('lonely/x-AbCdEf')]);
  });

  it('refuses more than 40 IAM resources, saying how to name the secrets', () => {
    const list = databases(41, (i) => `db${i}-AbCdEf`);
    expect(() => resolvers.secretPatterns(list, 'f')).toThrow(/the 41 database secrets need 41 IAM resources \(at most 40.*name the secrets under shared folders, e.g. strongbox\/<stage>\/<database>/);
  });
});

describe('deploy/schedules.cjs: retention', () => {
  it('schedules one daily sweep and passes the retention section to the function', async () => {
    const file = await configFile({ databases: [{ name: 'app', secretArn: SECRET }], retention: { dailyDays: 14, weeklyDays: 60 } });
    const resolve = variables({ 'param:configFile': file });

    const schedule = await resolvers.retentionSchedule();
    const policy = await resolvers.retentionPolicy(resolve);

    // After the night's dumps (03:00) and base backups (02:30): it sees them.
    expect(schedule).toBe('cron(0 4 * * ? *)');
    expect(schedule).toBe(schedules.retention);
    expect(JSON.parse(policy)).toEqual({ dailyDays: 14, weeklyDays: 60 });
  });

  it('passes `{}` (the defaults) without a retention section', async () => {
    const file = await configFile({ databases: [{ name: 'app', secretArn: SECRET }] });
    expect(await resolvers.retentionPolicy(variables({ 'param:configFile': file }))).toBe('{}');
  });
});

describe('deploy/image.cjs', () => {
  it('uses the stack\'s repository when imageUri is empty', async () => {
    const resolve = variables({ 'param:imageUri': '' });
    expect(await images.image(resolve)).toEqual({ 'Fn::Sub': '${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${DumpRepository}:latest' });
    expect(await images.repositoryArn(resolve)).toEqual({ 'Fn::GetAtt': ['DumpRepository', 'Arn'] });
  });

  it.each([
    ['123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/strongbox-dump:1.2', 'arn:aws:ecr:eu-west-1:123456789012:repository/team/strongbox-dump'],
    [`123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/dump@sha256:${'a'.repeat(64)}`, 'arn:aws-cn:ecr:cn-north-1:123456789012:repository/dump'],
  ])('scopes the pull to the repository of %s', async (uri, arn) => {
    expect(await images.repositoryArn(variables({ 'param:imageUri': uri }))).toBe(arn);
    expect(await images.image(variables({ 'param:imageUri': uri }))).toBe(uri);
  });

  it.each(['postgres:17', 'ghcr.io/acme/dump:1', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/dump'])('refuses %s (not an ECR image with a tag or digest)', (uri) => {
    expect(() => images.parseImageUri(uri)).toThrow(/is not an ECR image URI\. HINT: push the dump image to ECR/);
  });
});

describe('deploy/image.cjs: the container\'s memory limit', () => {
  it('is the task\'s memory, as the number CloudFormation and the Guard rules expect', async () => {
    expect(await images.containerMemory(variables({ 'param:taskMemory': '2048' }))).toBe(2048);
  });

  it.each(['2 GB', '256', ''])('refuses taskMemory=%j, naming the parameter', async (value) => {
    await expect(images.containerMemory(variables({ 'param:taskMemory': value }))).rejects.toThrow(/Stage parameter taskMemory=.* is invalid/);
  });
});

describe('sls package with a bad config', () => {
  it('fails before building anything, with the resolver\'s message', async () => {
    const file = await configFile({ databases: [{ name: 'app', url: 'postgres://app@db/app' }] });
    const result = await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/osls/bin/serverless.js'), 'package', '--stage', 'test', '--package', path.join(dir, 'out'), '--param', `configFile=${file}`], {
      cwd: ROOT,
      timeout: 120_000,
      env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', STRONGBOX_ESBUILD_WORK_FOLDER: `.esbuild/bad-${process.pid}` },
    }).then(
      () => ({ failed: false, output: '' }),
      (error: { stdout: string; stderr: string }) => ({ failed: true, output: error.stdout + error.stderr }),
    );
    expect(result.failed).toBe(true);
    expect(result.output).toContain(`Strongbox config ${file}: databases[0] ("app") needs a "secretArn"`);
  }, 130_000);
});

describe('archivers: which host role may archive which database (STRONGBOX_ARCHIVERS)', () => {
  const db = (name: string, extra: Record<string, string> = {}) => ({ name, secretArn: SECRET, ...extra });
  const resolve = async (databases: unknown[], archiverRoleArn = '') => resolvers.archivers(variables({ 'param:configFile': await configFile({ databases }), 'param:archiverRoleArn': archiverRoleArn }));

  it('gives every database to the stage\'s archiver role, by role name, as the endpoint parses it', async () => {
    const text = await resolve([db('app'), db('billing')], 'arn:aws:iam::123456789012:role/hosts/strongbox-db-host');
    expect(text).toBe('strongbox-db-host=app,billing');
    expect(parseArchivers(text)).toEqual(new Map([['strongbox-db-host', ['app', 'billing']]]));
    expect(text).toBe(encodeArchivers([{ name: 'app' }, { name: 'billing' }], 'arn:aws:iam::123456789012:role/hosts/strongbox-db-host'));
  });

  it('groups databases by their own archiverRole, the others falling back to the stage\'s', async () => {
    expect(await resolve([db('app'), db('crm', { archiverRole: 'crm-host' }), db('billing')], 'db-host')).toBe('db-host=app,billing;crm-host=crm');
  });

  it('is empty when no role is named anywhere, and refuses a config that names roles for some databases only', async () => {
    expect(await resolve([db('app')])).toBe('');
    await expect(resolve([db('app'), db('crm', { archiverRole: 'crm-host' })])).rejects.toThrow(/database "app" has no archiverRole/);
    await expect(resolve([db('app', { archiverRole: 'not a role!' })], 'db-host')).rejects.toThrow(/archiverRole must be the IAM role name or ARN/);
  });

  it('refuses a map over its 3 KB share of the endpoint\'s environment, before deploying', async () => {
    const many = Array.from({ length: 200 }, (_, index) => db(`database-with-a-long-name-${String(index).padStart(3, '0')}`, { archiverRole: `host-${index % 2}` }));
    await expect(resolve(many, 'db-host')).rejects.toThrow(/over its 3072-byte share/);
  });

  it('gives one role that archives all of 200 databases every database (`<role>=*`) rather than a list over the budget', async () => {
    const many = Array.from({ length: 200 }, (_, index) => db(`database-with-a-long-name-${String(index).padStart(3, '0')}`));
    const text = await resolve(many, 'arn:aws:iam::123456789012:role/db-host');
    expect(text).toBe('db-host=*');
    expect(parseArchivers(text)).toEqual(new Map([['db-host', ['*']]]));
    expect(archiverDecision(parseArchivers(text), 'db-host', 'database-with-a-long-name-199')).toBe('allowed');
    expect(archiverDecision(parseArchivers(text), 'other-host', 'database-with-a-long-name-199')).toBe('forbidden');
  });
});
