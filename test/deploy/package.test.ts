import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import schedules from '../../deploy/schedules.json';
import { CATALOG_TABLE_SCHEMA } from '../../shared/adapters/catalog/schema';
import fixture from '../fixtures/strongbox.config.json';
import { packageTemplate } from './template';

// `sls package` once, offline, and assertions on the CloudFormation it writes.
const run = promisify(execFile);
const require = createRequire(import.meta.url);
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/strongbox-dump:1.2.3';
/** Functions that must be there (others, added later, are checked the same way: see deployedFunctions). */
const FUNCTIONS = {
  scheduleBackup: 'schedule-backup',
  checksum: 'checksum',
  catalogIndex: 'catalog-index',
  watchdog: 'watchdog',
  archiveEndpoint: 'archive-endpoint',
  walCheckpoint: 'wal-checkpoint',
  pitr: 'pitr',
} as const;
const FN_ENV = ['STRONGBOX_BUCKET', 'STRONGBOX_TABLE', 'STRONGBOX_ALERT_TOPIC_ARN', 'POWERTOOLS_SERVICE_NAME'];

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- CloudFormation is untyped JSON
interface Statement { Effect: string; Action?: string | string[]; NotAction?: unknown; Resource?: Json; Condition?: Json; owner: string }

let outDir: string;
let cleanup: (() => Promise<void>) | undefined;
let template: Json;
let R: Record<string, Json>;

beforeAll(async () => {
  const packaged = await packageTemplate({ configFile: 'test/fixtures/strongbox.config.json', imageUri: IMAGE, noncurrentVersionDays: '45' });
  cleanup = packaged.cleanup;
  outDir = packaged.outDir;
  template = packaged.template;
  R = template.Resources;
}, 300_000);

afterAll(async () => cleanup?.());

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const ofType = (type: string) => Object.entries(R).filter(([, resource]) => resource.Type === type);
/** Every function of the template: its key in serverless.yml and its handler file under functions/. */
function deployedFunctions(): Record<string, string> {
  return Object.fromEntries(
    ofType('AWS::Lambda::Function').map(([id, fn]) => [`${id[0]!.toLowerCase()}${id.slice(1).replace(/LambdaFunction$/, '')}`, String(fn.Properties.Handler).replace(/^functions\/(.*)\.handler$/, '$1')]),
  );
}
const roleOf = (fn: string) => R[R[`${fn[0]!.toUpperCase()}${fn.slice(1)}LambdaFunction`].Properties.Role['Fn::GetAtt'][0]];
const statementsOf = (role: Json): Json[] => role.Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement);
const actionsOf = (statements: Json[]) => new Set(statements.flatMap((s) => list<string>(s.Action)).filter((a) => !a.startsWith('logs:')));

/** Every statement of every policy in the template, with the resource holding it. */
function allStatements(): Statement[] {
  const found: Statement[] = [];
  const walk = (node: Json, owner: string) => {
    if (Array.isArray(node)) node.forEach((item) => walk(item, owner));
    else if (node && typeof node === 'object') {
      if (typeof node.Effect === 'string' && ('Action' in node || 'NotAction' in node)) found.push({ ...node, owner });
      else Object.values(node).forEach((value) => walk(value, owner));
    }
  };
  for (const [id, resource] of Object.entries(R)) walk(resource.Properties, id);
  return found;
}

/** The logical ids a resource refers to (Ref, GetAtt, ${X} in Sub, DependsOn). */
function referencesOf(resource: Json): Set<string> {
  const refs = new Set<string>(list<string>(resource.DependsOn));
  const walk = (node: Json) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    if (typeof node.Ref === 'string') refs.add(node.Ref);
    if (node['Fn::GetAtt']) refs.add(String(list(node['Fn::GetAtt'])[0]).split('.')[0]!);
    const sub = node['Fn::Sub'];
    // Names defined by the Sub's own variable map are not resources.
    const local = new Set(Array.isArray(sub) && sub[1] ? Object.keys(sub[1]) : []);
    if (sub) for (const [, name] of String(list(sub)[0]).matchAll(/\$\{([A-Za-z0-9]+)(\.[A-Za-z]+)?\}/g)) if (!local.has(name!)) refs.add(name!);
    Object.values(node).forEach(walk);
  };
  walk(resource.Properties);
  return new Set([...refs].filter((ref) => !ref.startsWith('AWS::')));
}

/** The entries of a zip file by name (central directory, stored or deflated). */
function unzip(zip: Buffer): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = zip.readUInt32LE(end + 16);
  for (let i = 0; i < zip.readUInt16LE(end + 10); i++) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const [nameLength, extraLength, commentLength] = [zip.readUInt16LE(at + 28), zip.readUInt16LE(at + 30), zip.readUInt16LE(at + 32)];
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(data, data + size);
    entries.set(name, method === 0 ? raw : inflateRawSync(raw));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

describe('sls package: schedules', () => {
  it('fires the dispatcher every minute and the watchdog on its schedule: no rule per database', () => {
    // Prepare
    const rules = ofType('AWS::Events::Rule').map(([, rule]) => rule.Properties).filter((rule) => rule.ScheduleExpression);
    // Act
    const byTarget = Object.fromEntries(rules.map((rule) => [rule.Targets[0].Arn['Fn::GetAtt']?.[0] ?? JSON.stringify(rule.Targets[0].Arn), rule.ScheduleExpression]));
    // Assess
    expect(byTarget).toMatchObject({ DispatchLambdaFunction: schedules.dispatch, WatchdogLambdaFunction: schedules.watchdog });
    for (const target of ['ScheduleBackupLambdaFunction', 'WalCheckpointLambdaFunction']) expect(byTarget[target]).toBeUndefined();
    expect(rules.filter((rule) => JSON.stringify(rule.Targets).includes('ValidateStateMachine'))).toEqual([]);
    expect(schedules.dispatch).toBe('cron(* * * * ? *)');
  });

  it('compiles the config into the dispatcher and the dead man\'s switch, not into an environment', async () => {
    // Prepare
    const { deployConfigOf, readConfig } = require('../../deploy/schedules.cjs') as { deployConfigOf(config: unknown): unknown; readConfig(file: string): unknown };
    const expected = JSON.stringify(deployConfigOf(readConfig('test/fixtures/strongbox.config.json')));
    // Act
    const bundles = await Promise.all(['dispatch', 'deadman', 'scheduleBackup'].map(async (fn) => [...unzip(await readFile(path.join(outDir, `${fn}.zip`))).entries()].find(([name]) => name.endsWith('.mjs'))![1].toString('utf8')));
    // Assess
    expect(bundles.map((bundle) => bundle.includes(expected))).toEqual([true, true, false]);
    expect(bundles[0]).not.toContain('__STRONGBOX_DEPLOY_CONFIG__');
    const environments = ofType('AWS::Lambda::Function').map(([, fn]) => JSON.stringify(fn.Properties.Environment ?? {}));
    expect(environments.filter((env) => env.includes(fixture.databases[0]!.secretArn))).toEqual([]);
    expect(R.DispatchLambdaFunction.Properties.Environment.Variables).toMatchObject({
      STRONGBOX_SCHEDULE_BACKUP_FUNCTION: 'strongbox-test-scheduleBackup',
      STRONGBOX_WAL_CHECKPOINT_FUNCTION: 'strongbox-test-walCheckpoint',
      STRONGBOX_VALIDATE_STATE_MACHINE_ARN: { Ref: 'ValidateStateMachine' },
    });
  });
});

describe('sls package: S3 → SNS → functions', () => {
  it('notifies the ObjectCreated topic of every backup manifest and the WAL record topic of every WAL record, with rules that do not overlap', () => {
    const bucket = R.BackupBucket;
    const notification = bucket.Properties.NotificationConfiguration;
    expect(Object.keys(notification)).toEqual(['TopicConfigurations']);
    const rule = (prefix: string, suffix: string, topic = 'ObjectCreatedTopic') => ({
      Event: 's3:ObjectCreated:*',
      Topic: { Ref: topic },
      Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: prefix }, { Name: 'suffix', Value: suffix }] } },
    });
    expect(notification.TopicConfigurations).toEqual([rule('logical/', 'manifest.json'), rule('base/', 'manifest.json'), rule('wal/', '.json', 'WalRecordCreatedTopic')]);
    expect(list(bucket.DependsOn)).toContain('ObjectCreatedTopicPolicy');
    expect(list(bucket.DependsOn)).toContain('WalRecordCreatedTopicPolicy');
  });

  it('delivers WAL record events to catalogIndex alone (retention and checksum never receive them)', () => {
    const subscriptions = ofType('AWS::SNS::Subscription').map(([, s]) => s.Properties).filter((s) => s.TopicArn.Ref === 'WalRecordCreatedTopic');
    expect(subscriptions.map((s) => s.Endpoint['Fn::GetAtt'][0])).toEqual(['CatalogIndexLambdaFunction']);
    const [statement, ...others] = R.WalRecordCreatedTopicPolicy.Properties.PolicyDocument.Statement;
    expect(others).toEqual([]);
    expect(statement).toMatchObject({ Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: 'WalRecordCreatedTopic' } });
    expect(statement.Condition.StringEquals['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
  });

  it('lets only this bucket, in this account, publish to the topic', () => {
    const [statement, ...others] = R.ObjectCreatedTopicPolicy.Properties.PolicyDocument.Statement;
    expect(others).toEqual([]);
    expect(statement).toMatchObject({ Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: 'ObjectCreatedTopic' } });
    expect(statement.Condition.ArnLike['aws:SourceArn']['Fn::Sub']).toBe(`arn:\${AWS::Partition}:s3:::${R.BackupBucket.Properties.BucketName['Fn::Sub']}`);
    expect(statement.Condition.StringEquals['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
  });

  it('subscribes checksum, catalogIndex and retention to the topic', () => {
    const subscriptions = ofType('AWS::SNS::Subscription').map(([, s]) => s.Properties).filter((s) => s.TopicArn.Ref === 'ObjectCreatedTopic');
    expect(subscriptions.map((s) => [s.Protocol, s.TopicArn, s.Endpoint['Fn::GetAtt'][0]]).sort()).toEqual([
      ['lambda', { Ref: 'ObjectCreatedTopic' }, 'CatalogIndexLambdaFunction'],
      ['lambda', { Ref: 'ObjectCreatedTopic' }, 'ChecksumLambdaFunction'],
      ['lambda', { Ref: 'ObjectCreatedTopic' }, 'RetentionLambdaFunction'],
    ]);
    const invokers = ofType('AWS::Lambda::Permission').filter(([, p]) => p.Properties.Principal === 'sns.amazonaws.com' && p.Properties.SourceArn.Ref === 'ObjectCreatedTopic');
    expect(invokers).toHaveLength(3);
  });

  it('has no dependency cycle and no reference to a missing resource', () => {
    const graph = new Map(Object.entries(R).map(([id, resource]) => [id, referencesOf(resource)]));
    const missing = [...graph].flatMap(([id, refs]) => [...refs].filter((ref) => !graph.has(ref)).map((ref) => `${id} → ${ref}`));
    expect(missing).toEqual([]);
    const state = new Map<string, 'open' | 'done'>();
    const cycle: string[] = [];
    const visit = (id: string, trail: string[]): void => {
      if (state.get(id) === 'done' || cycle.length) return;
      if (state.get(id) === 'open') return void cycle.push(...trail, id);
      state.set(id, 'open');
      for (const ref of graph.get(id) ?? []) visit(ref, [...trail, id]);
      state.set(id, 'done');
    };
    for (const id of graph.keys()) visit(id, []);
    expect(cycle).toEqual([]);
  });
});

describe('sls package: least privilege', () => {
  const table = [{ 'Fn::GetAtt': ['CatalogTable', 'Arn'] }, { 'Fn::Sub': '${CatalogTable.Arn}/index/*' }];
  const crud = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
  // Publishing an alert also claims its dedupe item (ALERT#… on the catalog table).
  const alerts = ['sns:Publish', 'kms:GenerateDataKey', 'kms:Decrypt', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'];

  // Every asynchronously invoked function may send a failed invocation to the failures queue.
  const failures = ['sqs:SendMessage'];
  it.each([
    ['scheduleBackup', [...failures, 'ecs:RunTask', 'ecs:TagResource', 'iam:PassRole', ...crud, 'dynamodb:Query', ...alerts]],
    ['checksum', [...failures, 's3:GetObject', 's3:ListBucket', 'kms:Decrypt', ...crud, ...alerts, 'lambda:InvokeFunction']],
    // A damaged WAL file's record is withdrawn (deferred decoded check): s3:PutObject/DeleteObject of *.json in WAL folders, its items batch-deleted.
    ['catalogIndex', [...failures, 's3:GetObject', 's3:ListBucket', 's3:PutObject', 's3:DeleteObject', 'kms:Decrypt', ...crud, 'dynamodb:Query', 'dynamodb:BatchWriteItem', ...alerts]],
    ['watchdog', [...failures, 'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 's3:GetObject', 's3:ListBucket', 'kms:Decrypt', ...alerts]],
    ['archiveEndpoint', ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket', ...alerts]],
    ['walCheckpoint', [...failures, 's3:GetObject', 'secretsmanager:GetSecretValue', ...crud, 'dynamodb:Query', ...alerts]],
    ['pitr', ['s3:GetObject', 's3:ListBucket', 'kms:Decrypt', 'dynamodb:GetItem', 'dynamodb:Query']],
    // restore and validate read the backup's manifest: its sizes size the task.
    ['restore', ['s3:GetObject', 'kms:Decrypt', 'dynamodb:GetItem', 'dynamodb:Query', 'states:StartExecution']],
    ['restoreTable', ['s3:GetObject', 'kms:Decrypt', 'dynamodb:GetItem', 'dynamodb:Query', 'states:StartExecution']],
    ['validate', ['s3:GetObject', 's3:ListBucket', 'kms:Decrypt', 'dynamodb:GetItem', 'dynamodb:Query', 'states:StartExecution']],
    // dispatch sizes the monthly physical drill: the catalog, the manifest, the WAL's HEADs.
    ['dispatch', [...failures, 'lambda:InvokeFunction', 'states:StartExecution', 's3:GetObject', 's3:ListBucket', 'kms:Decrypt', 'dynamodb:GetItem', 'dynamodb:Query', ...alerts]],
    ['retention', [...failures, 's3:GetObject', 's3:GetObjectRetention', 's3:GetObjectLegalHold', 's3:DeleteObject', 's3:ListBucket', 's3:ListBucketMultipartUploads', 's3:AbortMultipartUpload', 'kms:Decrypt', ...crud, 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:Query', ...alerts]],
    ['deadman', [...failures, 'dynamodb:Query', 'dynamodb:GetItem', ...alerts]],
    ['notifySlack', [...failures, 'ssm:GetParameter']],
    ['taskStopped', [...failures, ...alerts]],
  ])('gives %s its own role with exactly its actions', (fn, expected) => {
    const role = roleOf(fn);
    expect(role.Type).toBe('AWS::IAM::Role');
    expect(actionsOf(statementsOf(role))).toEqual(new Set(expected));
    const logs = statementsOf(role).filter((s) => list<string>(s.Action).some((a) => a.startsWith('logs:')));
    expect(logs.flatMap((s) => list(s.Resource)).map((r: Json) => r['Fn::Sub'])).toEqual([
      `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/strongbox-test-${fn}:*:*`,
    ]);
  });

  it('narrows the scheduler to the task definition, the two task roles and the catalog', () => {
    const statements = statementsOf(roleOf('scheduleBackup'));
    const find = (action: string) => statements.find((s) => list(s.Action).includes(action));
    expect(find('ecs:RunTask').Resource).toEqual({ Ref: 'DumpTaskDefinition' });
    expect(find('ecs:RunTask').Condition.ArnEquals['ecs:cluster']).toEqual({ 'Fn::GetAtt': ['EcsCluster', 'Arn'] });
    expect(find('iam:PassRole').Resource).toEqual([{ 'Fn::GetAtt': ['DumpTaskRole', 'Arn'] }, { 'Fn::GetAtt': ['DumpExecutionRole', 'Arn'] }]);
    // Item actions name the table, never its indexes; its one Query (the previous backups' sizes) names its index.
    expect(find('dynamodb:PutItem').Resource).toEqual(table[0]);
    expect(find('dynamodb:Query').Resource).toEqual({ 'Fn::Sub': '${CatalogTable.Arn}/index/byDatabase' });
    expect(statementsOf(roleOf('watchdog')).find((s) => list(s.Action).includes('dynamodb:Query')).Resource).toEqual({ 'Fn::Sub': '${CatalogTable.Arn}/index/byState' });
    // The alert dedupe rights reach only the ALERT# items.
    const dedupe = statementsOf(roleOf('archiveEndpoint')).find((s) => list(s.Action).includes('dynamodb:DeleteItem'));
    expect(dedupe.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['ALERT#*'] } });
  });

  it('gives the dump task exactly its actions, and only the configured secrets', () => {
    const statements = statementsOf(R.DumpTaskRole);
    expect(actionsOf(statements)).toEqual(
      new Set(['s3:PutObject', 's3:AbortMultipartUpload', 's3:GetObject', 's3:DeleteObject', 's3:RestoreObject', 's3:ListBucket', 's3:ListBucketMultipartUploads', 'kms:GenerateDataKey',
        'kms:Decrypt', ...crud, 'dynamodb:DeleteItem', 'dynamodb:Query', 'secretsmanager:GetSecretValue', 'sns:Publish']),
    );
    const secrets = statements.find((s) => list(s.Action).includes('secretsmanager:GetSecretValue')).Resource;
    // billing's ARN in the fixture is partial: the policy must still match the real secret.
    expect(secrets).toEqual([fixture.databases[0]!.secretArn, `${fixture.databases[1]!.secretArn}-??????`]);
    // Restore targets not in the config (a new server after a total loss): strongbox/<stage>/….
    expect(statements.filter((s) => list(s.Action).includes('secretsmanager:GetSecretValue')).map((s) => s.Resource).at(-1)).toEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:strongbox/test/*' });
    // Backups only, never the WAL archive; DeleteItem only on its lock and the alert dedupe items.
    expect(statements.find((s) => list(s.Action).includes('s3:PutObject')).Resource).toEqual([{ 'Fn::Sub': '${self:custom.bucketArn}/logical/*'.replace('${self:custom.bucketArn}', 'arn:${AWS::Partition}:s3:::strongbox-test-${AWS::AccountId}-${AWS::Region}') }, { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::strongbox-test-${AWS::AccountId}-${AWS::Region}/base/*' }]);
    expect(statements.find((s) => list(s.Action).includes('dynamodb:DeleteItem')).Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['LOCK#*', 'ALERT#*'] } });
  });

  it('lets the execution role pull only the configured image and write only its log group', () => {
    const statements = statementsOf(R.DumpExecutionRole);
    expect(new Set(statements.flatMap((s) => list<string>(s.Action)))).toEqual(
      new Set(['ecr:GetAuthorizationToken', 'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage', 'logs:CreateLogStream', 'logs:PutLogEvents']),
    );
    expect(statements.find((s) => list(s.Action).includes('ecr:BatchGetImage')).Resource).toBe('arn:aws:ecr:eu-west-1:123456789012:repository/strongbox-dump');
    expect(statements.find((s) => list(s.Action).includes('logs:PutLogEvents')).Resource).toEqual({ 'Fn::GetAtt': ['DumpLogGroup', 'Arn'] });
  });

  it('sends every asynchronous invocation that failed after 2 retries (within 6 h) to the alarmed failures queue', () => {
    const asynchronous = ['ScheduleBackup', 'Checksum', 'CatalogIndex', 'Watchdog', 'WalCheckpoint', 'Retention', 'Deadman', 'NotifySlack', 'TaskStopped', 'Dispatch'];
    for (const fn of asynchronous) {
      expect(R[`${fn}LambdaEvConf`].Properties).toMatchObject({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 21600, DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['AsyncFailuresQueue', 'Arn'] } } } });
      expect(statementsOf(roleOf(`${fn[0]!.toLowerCase()}${fn.slice(1)}`)).find((s) => list(s.Action).includes('sqs:SendMessage')).Resource).toEqual({ 'Fn::GetAtt': ['AsyncFailuresQueue', 'Arn'] });
    }
    // The synchronous ones (sls invoke, the Function URL) answer their caller instead.
    for (const fn of ['Pitr', 'Restore', 'RestoreTable', 'Validate', 'ArchiveEndpoint']) expect(R[`${fn}LambdaEvConf`]).toBeUndefined();
    expect(R.AsyncFailuresQueue.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    expect(R.AsyncFailuresAlarm.Properties).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1, AlarmActions: [{ Ref: 'AlertsTopic' }] });
  });

  it('never grants a DynamoDB item action on an index (item actions apply to the table only)', () => {
    const itemActions = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:BatchGetItem'];
    const onIndexes = allStatements()
      .filter((s) => s.Effect === 'Allow' && list<string>(s.Action).some((action) => itemActions.includes(action)))
      .filter((s) => JSON.stringify(s.Resource).includes('/index/'))
      .map((s) => `${s.owner}: ${list<string>(s.Action).join(',')}`);
    expect(onIndexes).toEqual([]);
  });

  it('allows no wildcard action anywhere, and Resource * only where AWS needs it', () => {
    const allows = allStatements().filter((s) => s.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(20);
    expect(allows.filter((s) => 'NotAction' in s || 'NotResource' in s)).toEqual([]);
    const wild = allows.flatMap((s) => list<string>(s.Action).filter((a) => a === '*' || a.endsWith(':*')).map((a) => `${s.owner}: ${a}`));
    expect(wild).toEqual([]);
    const anywhere = allows.filter((s) => list(s.Resource).includes('*')).map((s) => `${s.owner}: ${list<string>(s.Action).join(',')}`);
    // In a key policy `*` is the key itself; the ECR login token has no resource-level permission.
    // Lambda's network-interface actions for a function in a VPC have no resource-level permission either.
    expect(anywhere.sort()).toEqual([
      'BackupKey: ' + list<string>(R.BackupKey.Properties.KeyPolicy.Statement[0].Action).join(','),
      // CloudWatch alarms publish to the alerts topic, which the key encrypts.
      'BackupKey: kms:Decrypt,kms:GenerateDataKey',
      // CloudWatch Logs encrypts the stack's log groups (only those: a condition names them).
      'BackupKey: kms:Encrypt*,kms:Decrypt*,kms:ReEncrypt*,kms:GenerateDataKey*,kms:Describe*',
      'DumpExecutionRole: ecr:GetAuthorizationToken',
      // The state machines' log delivery and X-Ray traces have no resource-level permission.
      'JobStateMachineObservabilityPolicy: logs:CreateLogDelivery,logs:GetLogDelivery,logs:UpdateLogDelivery,logs:DeleteLogDelivery,logs:ListLogDeliveries,logs:PutResourcePolicy,logs:DescribeResourcePolicies,logs:DescribeLogGroups',
      'JobStateMachineObservabilityPolicy: xray:PutTraceSegments,xray:PutTelemetryRecords,xray:GetSamplingRules,xray:GetSamplingTargets',
      'WalCheckpointNetworkPolicy: ec2:CreateNetworkInterface,ec2:DescribeNetworkInterfaces,ec2:DeleteNetworkInterface,ec2:AssignPrivateIpAddresses,ec2:UnassignPrivateIpAddresses',
    ]);
    // Only with subnets (the fixture has none): created and attached under HasSubnets.
    expect(R.WalCheckpointNetworkPolicy.Condition).toBe('HasSubnets');
    expect(R.WalCheckpointIamRoleLambdaExecution.Properties.ManagedPolicyArns).toEqual({ 'Fn::If': ['HasSubnets', [{ Ref: 'WalCheckpointNetworkPolicy' }], { Ref: 'AWS::NoValue' }] });
  });
});

describe('sls package: WAL archiving', () => {
  it('serves the archive endpoint as a Function URL behind AWS_IAM, writing only under wal/', () => {
    expect(R.ArchiveEndpointLambdaFunctionUrl.Properties).toMatchObject({ AuthType: 'AWS_IAM', TargetFunctionArn: { 'Fn::GetAtt': ['ArchiveEndpointLambdaFunction', 'Arn'] } });
    const s3 = statementsOf(roleOf('archiveEndpoint')).find((s) => list(s.Action).includes('s3:PutObject'));
    expect(s3.Resource['Fn::Sub']).toMatch(/^arn:\$\{AWS::Partition\}:s3:::strongbox-.*\/wal\/\*$/);
    expect(template.Outputs.ArchiveEndpointUrl.Value).toEqual({ 'Fn::GetAtt': ['ArchiveEndpointLambdaFunctionUrl', 'FunctionUrl'] });
  });

  it('lets the archiver role invoke the URL only when one is configured', () => {
    expect(R.ArchiverInvokePermission).toMatchObject({ Condition: 'HasArchiverRole', Properties: { Action: 'lambda:InvokeFunctionUrl', FunctionUrlAuthType: 'AWS_IAM' } });
    expect(R.ArchiverInvokeViaUrlPermission).toMatchObject({ Condition: 'HasArchiverRole', Properties: { Action: 'lambda:InvokeFunction', InvokedViaFunctionUrl: true } });
    expect(template.Conditions.HasArchiverRole).toBeDefined();
  });

  it('runs the WAL checkpoint (started by the dispatcher) in the databases\' subnets when they are given', () => {
    const rules = ofType('AWS::Events::Rule').map(([, rule]) => rule.Properties).filter((rule) => rule.Targets[0].Arn['Fn::GetAtt']?.[0] === 'WalCheckpointLambdaFunction');
    expect(rules).toEqual([]);
    const vpc = R.WalCheckpointLambdaFunction.Properties.VpcConfig;
    expect(vpc['Fn::If'][0]).toBe('HasSubnets');
    expect(vpc['Fn::If'][2]).toEqual({ Ref: 'AWS::NoValue' });
  });
});

describe('sls package: storage and catalog', () => {
  it('encrypts, versions and closes the bucket, and keeps it, the table and the key on stack deletion', () => {
    const bucket = R.BackupBucket.Properties;
    expect(bucket.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': ['BackupKey', 'Arn'] } }, BucketKeyEnabled: true },
    ]);
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(R.BackupKey.Properties.EnableKeyRotation).toBe(true);
    for (const id of ['BackupBucket', 'CatalogTable', 'BackupKey']) expect([id, R[id].DeletionPolicy, R[id].UpdateReplacePolicy]).toEqual([id, 'Retain', 'Retain']);
  });

  it('refuses every request to the bucket that is not over TLS', () => {
    const deny = R.BackupBucketPolicy.Properties.PolicyDocument.Statement.find((s: Json) => s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
    expect(deny).toMatchObject({ Effect: 'Deny', Principal: '*', Action: 's3:*' });
    // By reference: a plain string holding ${AWS::…} would reach S3 unsubstituted.
    expect(deny.Resource).toEqual([{ 'Fn::GetAtt': ['BackupBucket', 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['BackupBucket', 'Arn'] }, '/*']] }]);
  });

  it('aborts stale uploads, moves monthly tiers to cold storage and expires old versions', () => {
    const rules = R.BackupBucket.Properties.LifecycleConfiguration.Rules;
    expect(rules.every((rule: Json) => rule.Status === 'Enabled')).toBe(true);
    expect(rules.find((rule: Json) => rule.AbortIncompleteMultipartUpload).AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 1 });
    const cold = rules.filter((rule: Json) => rule.Transitions).map((rule: Json) => [rule.Prefix, rule.Transitions]);
    expect(cold).toEqual(['logical/monthly/', 'base/monthly/'].map((prefix) => [prefix, [{ StorageClass: 'GLACIER', TransitionInDays: 1 }]]));
    expect(Number(rules.find((rule: Json) => rule.NoncurrentVersionExpiration).NoncurrentVersionExpiration.NoncurrentDays)).toBe(45);
  });

  it('declares the catalog table exactly as shared/adapters/catalog/schema.ts', () => {
    const table = R.CatalogTable.Properties;
    const byName = <T extends { AttributeName?: string; IndexName?: string }>(items: T[]) => [...items].sort((a, b) => String(a.AttributeName ?? a.IndexName).localeCompare(String(b.AttributeName ?? b.IndexName)));
    expect(table.KeySchema).toEqual(CATALOG_TABLE_SCHEMA.KeySchema);
    expect(byName(table.AttributeDefinitions)).toEqual(byName(CATALOG_TABLE_SCHEMA.AttributeDefinitions));
    expect(byName(table.GlobalSecondaryIndexes)).toEqual(byName(CATALOG_TABLE_SCHEMA.GlobalSecondaryIndexes));
    expect(table.BillingMode).toBe(CATALOG_TABLE_SCHEMA.BillingMode);
    expect(table.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.DeletionProtectionEnabled).toBe(true);
  });
});

describe('sls package: functions and the dump task', () => {
  it('wires every function on Node 22 with its environment and a log group with retention', () => {
    const functions = deployedFunctions();
    expect(functions).toMatchObject(FUNCTIONS);
    for (const [fn, file] of Object.entries(functions)) {
      const props = R[`${fn[0]!.toUpperCase()}${fn.slice(1)}LambdaFunction`].Properties;
      expect([fn, props.Runtime, props.Handler]).toEqual([fn, 'nodejs22.x', `functions/${file}.handler`]);
      expect(Object.keys(props.Environment.Variables)).toEqual(expect.arrayContaining(FN_ENV));
    }
    const env = R.ScheduleBackupLambdaFunction.Properties.Environment.Variables;
    expect(env).toMatchObject({ STRONGBOX_CLUSTER_ARN: { 'Fn::GetAtt': ['EcsCluster', 'Arn'] }, STRONGBOX_TASK_DEFINITION_ARN: { Ref: 'DumpTaskDefinition' }, STRONGBOX_CONTAINER_NAME: 'dump', STRONGBOX_ASSIGN_PUBLIC_IP: 'DISABLED' });
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['STRONGBOX_SUBNETS', 'STRONGBOX_SECURITY_GROUPS']));
    const groups = ofType('AWS::Logs::LogGroup').map(([, group]) => group.Properties);
    // One per function, the tasks' and the state machines'.
    expect(groups).toHaveLength(Object.keys(functions).length + 2);
    expect(groups.every((group) => Number(group.RetentionInDays) > 0)).toBe(true);
  });

  it('runs the dump container from the image parameter with its environment and logs', () => {
    const task = R.DumpTaskDefinition.Properties;
    const [container, ...others] = task.ContainerDefinitions;
    expect(others).toEqual([]);
    expect([container.Name, container.Image, task.NetworkMode, task.RequiresCompatibilities]).toEqual(['dump', IMAGE, 'awsvpc', ['FARGATE']]);
    expect(container.Environment.map((e: Json) => e.Name).sort()).toEqual(['AWS_REGION', 'STRONGBOX_ALERT_TOPIC_ARN', 'STRONGBOX_BUCKET', 'STRONGBOX_TABLE']);
    expect(container.LogConfiguration.Options['awslogs-group']).toEqual({ Ref: 'DumpLogGroup' });
    expect([task.TaskRoleArn, task.ExecutionRoleArn]).toEqual([{ 'Fn::GetAtt': ['DumpTaskRole', 'Arn'] }, { 'Fn::GetAtt': ['DumpExecutionRole', 'Arn'] }]);
    // Restores and drills download their dump to /tmp: more than Fargate's default 20 GiB.
    expect(task.EphemeralStorage).toEqual({ SizeInGiB: 50 });
  });

  it('writes one zip per function, each an ESM bundle that loads and exports handler', async () => {
    const zips = (await readdir(outDir)).filter((file) => file.endsWith('.zip')).sort();
    const functions = deployedFunctions();
    expect(zips).toEqual(Object.keys(functions).map((fn) => `${fn}.zip`).sort());
    for (const [fn, file] of Object.entries(functions)) {
      const entries = unzip(await readFile(path.join(outDir, `${fn}.zip`)));
      expect([...entries.keys()].sort()).toEqual([`functions/${file}.mjs`, `functions/${file}.mjs.map`]);
      const bundle = path.join(outDir, `${fn}.mjs`);
      await writeFile(bundle, entries.get(`functions/${file}.mjs`)!);
      const probe = 'const m = await import(process.argv[1]); process.stdout.write(typeof m.handler);';
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe, bundle], { env: { ...process.env, NODE_NO_WARNINGS: '1' } });
      expect([fn, stdout]).toEqual([fn, 'function']);
    }
  }, 150_000);
});
