import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupKeys } from '../../shared/domain/keys';
import { METRIC_UNITS } from '../../shared/metrics';
import { createdResources, list, packageTemplate, ROOT, type Json } from './template';

// "Deployment safe by default", point by point, on the packaged CloudFormation: once with the
// stage's defaults, once with every optional protection turned on.
const require = createRequire(import.meta.url);
const alarmsResolver = require('../../deploy/alarms.cjs') as { errorAlarms(service: string, stage: string, names: string[]): { Resources: Record<string, Json> } };
const protection = require('../../deploy/protection.cjs') as { checkProtection(params: Record<string, string>): Record<string, string | number> };
const REPLICA_BUCKET = 'arn:aws:s3:::strongbox-dr-123456789012-us-west-2';
const REPLICA_KEY = 'arn:aws:kms:us-west-2:123456789012:key/mrk-0123456789abcdef0123456789abcdef';
const BASE_PARAMS = { configFile: 'test/fixtures/strongbox.config.json', imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/strongbox-dump:1.2.3' };

let plain: Record<string, Json>;
let hardened: Record<string, Json>;
let hardenedTemplate: Json;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  // One after the other: packaging rewrites the service's .serverless/ (packageTemplate serializes).
  const a = await packageTemplate(BASE_PARAMS);
  cleanups.push(a.cleanup);
  const b = await packageTemplate({
      ...BASE_PARAMS,
      objectLockMode: 'COMPLIANCE',
      objectLockDays: '400',
      replicaBucketArn: REPLICA_BUCKET,
      replicaKmsKeyArn: REPLICA_KEY,
      replicaStorageClass: 'STANDARD_IA',
      rpoSeconds: '120',
      archiveLagWarningSeconds: '45',
  });
  cleanups.push(b.cleanup);
  plain = createdResources(a.template);
  hardened = createdResources(b.template);
  hardenedTemplate = b.template;
}, 400_000);

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

const ofType = (resources: Record<string, Json>, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const statementsOf = (role: Json): Json[] => list<Json>(role.Properties.Policies).flatMap((policy: Json) => list<Json>(policy.PolicyDocument.Statement));

describe('the backup bucket', () => {
  it('is versioned', () => {
    expect(plain.BackupBucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  it('encrypts with SSE-KMS under the stack\'s own key, one data key per bucket', () => {
    expect(plain.BackupBucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': ['BackupKey', 'Arn'] } }, BucketKeyEnabled: true },
    ]);
    expect(plain.BackupKey.Type).toBe('AWS::KMS::Key');
  });

  it('blocks every kind of public access, and ACLs altogether', () => {
    expect(plain.BackupBucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(plain.BackupBucket.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
  });

  it('denies every request that is not over TLS 1.2+, to the bucket and its objects', () => {
    const statements = plain.BackupBucketPolicy.Properties.PolicyDocument.Statement;
    expect(plain.BackupBucketPolicy.Properties.Bucket).toEqual({ Ref: 'BackupBucket' });
    const tls = statements.find((s: Json) => s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
    const old = statements.find((s: Json) => s.Condition?.NumericLessThan?.['s3:TlsVersion'] === '1.2');
    for (const deny of [tls, old]) {
      expect(deny).toMatchObject({ Effect: 'Deny', Principal: '*', Action: 's3:*' });
      // By reference: a plain string holding ${AWS::…} would reach S3 unsubstituted.
      expect(deny.Resource).toEqual([{ 'Fn::GetAtt': ['BackupBucket', 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['BackupBucket', 'Arn'] }, '/*']] }]);
    }
  });

  it('aborts incomplete multipart uploads after one day, for the whole bucket', () => {
    const rules = plain.BackupBucket.Properties.LifecycleConfiguration.Rules.filter((rule: Json) => rule.AbortIncompleteMultipartUpload);
    expect(rules).toEqual([{ Id: 'abort-incomplete-multipart-uploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }]);
  });

  it('moves the monthly tier, and only it, to cold storage: the prefixes are where monthly backups are written', () => {
    const cold = plain.BackupBucket.Properties.LifecycleConfiguration.Rules.filter((rule: Json) => rule.Transitions);
    const prefixes = cold.map((rule: Json) => rule.Prefix);
    // The keys the backups really use (shared/domain/keys.ts), not a copy of the YAML.
    const logical = backupKeys('logical', 'monthly', 'app', '20261101T030000Z-l-abcdef', 'gzip').dump;
    const base = backupKeys('base', 'monthly', 'app', '20261101T023000Z-b-abcdef', 'zstd').dump;
    expect(prefixes.map((prefix: string) => [logical, base].filter((key) => key.startsWith(prefix)).length)).toEqual([1, 1]);
    for (const tier of ['daily', 'weekly', 'manual'] as const) expect(prefixes.some((p: string) => backupKeys('logical', tier, 'app', '20261124T030000Z-l-abcdef', 'gzip').dump.startsWith(p))).toBe(false);
    for (const rule of cold) expect(rule.Transitions).toEqual([{ StorageClass: 'GLACIER', TransitionInDays: 1 }]);
    // Manifests stay readable (indexing, planning and restores read them); only dumps go cold.
    for (const rule of cold) expect(rule.ObjectSizeGreaterThan).toBe(131072);
  });

  it('expires noncurrent versions, so that retention frees space', () => {
    const rule = plain.BackupBucket.Properties.LifecycleConfiguration.Rules.find((r: Json) => r.NoncurrentVersionExpiration);
    expect(rule).toEqual({ Id: 'expire-noncurrent-versions', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 30 }, ExpiredObjectDeleteMarker: true });
  });

  it('has no Object Lock and no replication unless the stage asks for them', () => {
    const bucket = plain.BackupBucket.Properties;
    expect([bucket.ObjectLockEnabled, bucket.ObjectLockConfiguration, bucket.ReplicationConfiguration]).toEqual([undefined, undefined, undefined]);
    expect(plain.ReplicationRole).toBeUndefined();
  });

  it('locks every new object version with the stage\'s Object Lock mode and days', () => {
    const bucket = hardened.BackupBucket.Properties;
    expect(bucket.ObjectLockEnabled).toBe(true);
    const { Days, ...retention } = bucket.ObjectLockConfiguration.Rule.DefaultRetention;
    // A --param arrives as a string; CloudFormation reads "400" as the integer.
    expect([bucket.ObjectLockConfiguration.ObjectLockEnabled, retention, Number(Days)]).toEqual(['Enabled', { Mode: 'COMPLIANCE' }, 400]);
    // Object Lock needs versioning; it stays on.
    expect(bucket.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  it('replicates everything to the DR bucket, re-encrypted with the replica key, through a role that can do only that', () => {
    const replication = hardened.BackupBucket.Properties.ReplicationConfiguration;
    expect(replication).toEqual({
      Role: { 'Fn::GetAtt': ['ReplicationRole', 'Arn'] },
      Rules: [
        {
          Id: 'disaster-recovery-copy',
          Status: 'Enabled',
          Priority: 1,
          Filter: { Prefix: '' },
          DeleteMarkerReplication: { Status: 'Enabled' },
          SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
          Destination: { Bucket: REPLICA_BUCKET, StorageClass: 'STANDARD_IA', EncryptionConfiguration: { ReplicaKmsKeyID: REPLICA_KEY } },
        },
      ],
    });
    const role = hardened.ReplicationRole;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } } },
    ]);
    const byAction = (action: string) => statementsOf(role).find((s) => list(s.Action).includes(action));
    expect(byAction('s3:ReplicateObject').Resource).toBe(`${REPLICA_BUCKET}/*`);
    expect(byAction('kms:Encrypt').Resource).toBe(REPLICA_KEY);
    expect(byAction('kms:Decrypt')).toMatchObject({ Resource: { 'Fn::GetAtt': ['BackupKey', 'Arn'] }, Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 's3.${AWS::Region}.amazonaws.com' } } } });
    expect(byAction('s3:GetObjectVersionForReplication').Resource['Fn::Sub']).toMatch(/^arn:\$\{AWS::Partition\}:s3:::strongbox-.*\/\*$/);
  });

  it('uses a multi-Region key with rotation, so that the DR region can hold a replica of it', () => {
    expect(plain.BackupKey.Properties).toMatchObject({ EnableKeyRotation: true, MultiRegion: true });
  });
});

describe('nothing that holds backups goes with the stack', () => {
  it.each(['BackupBucket', 'CatalogTable', 'BackupKey'])('%s is retained on deletion and on replacement', (id) => {
    expect([plain[id].DeletionPolicy, plain[id].UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
  });

  it('keeps the catalog recoverable: point-in-time recovery and deletion protection on', () => {
    expect(plain.CatalogTable.Properties).toMatchObject({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, DeletionProtectionEnabled: true, SSESpecification: { SSEEnabled: true } });
  });

  it('expires only the alert dedupe items, by an attribute no backup or WAL item has', () => {
    expect(plain.CatalogTable.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'ttl', Enabled: true });
  });
});

/** Actions AWS authorizes only on Resource `*` (no resource-level permission), with why they are needed. */
const ANYWHERE: Record<string, string> = {
  'ecr:GetAuthorizationToken': 'the registry login token of the dump task\'s execution role',
  'ec2:CreateNetworkInterface': 'a function in the databases\' VPC: Lambda manages its ENIs',
  'ec2:DescribeNetworkInterfaces': 'idem',
  'ec2:DeleteNetworkInterface': 'idem',
  'ec2:AssignPrivateIpAddresses': 'idem',
  'ec2:UnassignPrivateIpAddresses': 'idem',
};

describe('least privilege, over every generated role', () => {
  const roles = () => [...ofType(plain, 'AWS::IAM::Role'), ...ofType(hardened, 'AWS::IAM::Role').filter(([id]) => !(id in plain))];

  it('finds the roles: one per function, the task\'s two, the replication role', () => {
    const ids = roles().map(([id]) => id);
    expect(ids).toEqual(expect.arrayContaining(['ScheduleBackupIamRoleLambdaExecution', 'DumpTaskRole', 'DumpExecutionRole', 'ReplicationRole']));
    const functions = ofType(plain, 'AWS::Lambda::Function');
    // Each function has its own role (serverless-iam-roles-per-function), not the shared default one.
    expect(new Set(functions.map(([, fn]) => JSON.stringify(fn.Properties.Role))).size).toBe(functions.length);
  });

  it('allows no wildcard action in any role', () => {
    const wild = roles().flatMap(([id, role]) =>
      statementsOf(role)
        .filter((s) => s.Effect === 'Allow')
        .flatMap((s) => [...list<string>(s.Action), ...list<string>(s.NotAction)].filter((a) => a === '*' || a.endsWith(':*') || 'NotAction' in s).map((a) => `${id}: ${a}`)),
    );
    expect(wild).toEqual([]);
  });

  it('allows Resource * only for actions that have no resource-level permission', () => {
    const anywhere = roles().flatMap(([id, role]) =>
      statementsOf(role)
        .filter((s) => s.Effect === 'Allow' && (list(s.Resource).includes('*') || 'NotResource' in s))
        .flatMap((s) => list<string>(s.Action).filter((action) => !(action in ANYWHERE)).map((action) => `${id}: ${action}`)),
    );
    expect(anywhere).toEqual([]);
  });

  it('gives the key policy to the account, CloudWatch alarms and CloudWatch Logs only (there `*` means this key)', () => {
    const statements = plain.BackupKey.Properties.KeyPolicy.Statement;
    const allowed = statements.filter((s: Json) => s.Effect === 'Allow');
    expect(allowed.map((s: Json) => s.Principal)).toEqual([
      { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
      { Service: 'cloudwatch.amazonaws.com' },
      { Service: { 'Fn::Sub': 'logs.${AWS::Region}.amazonaws.com' } },
    ]);
    expect(statements[1]).toMatchObject({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } } });
    // CloudWatch Logs only for the stack's log groups (test/deploy/controls.test.ts checks the patterns).
    expect(Object.keys(allowed[2].Condition.ArnLike)).toEqual(['kms:EncryptionContext:aws:logs:arn']);
    // The only other statement denies grants to anyone but AWS services (CT.KMS.PR.3).
    expect(statements.filter((s: Json) => s.Effect !== 'Allow').map((s: Json) => [s.Effect, s.Action])).toEqual([['Deny', 'kms:CreateGrant']]);
    expect(list<string>(statements[0].Action).filter((a) => a === '*' || a === 'kms:*')).toEqual([]);
  });
});

describe('alarms', () => {
  const alarms = () => ofType(hardened, 'AWS::CloudWatch::Alarm').map(([id, alarm]) => [id, alarm.Properties] as [string, Json]);

  it('alarms on the archive lag over the RPO (stage parameter) and warns below it', () => {
    const lag = alarms().filter(([, a]) => a.MetricName === 'ArchiveLagSeconds').map(([id, a]) => [id, a.Namespace, a.Statistic, a.ComparisonOperator, Number(a.Threshold)]);
    expect(lag).toEqual([
      ['ArchiveLagAlarm', 'Strongbox', 'Maximum', 'GreaterThanThreshold', 120],
      ['ArchiveLagWarningAlarm', 'Strongbox', 'Maximum', 'GreaterThanThreshold', 45],
    ]);
  });

  it('alarms on failed backups (task or checksum) and failed drills, on metrics the code really emits', () => {
    const byId = Object.fromEntries(alarms());
    const service = [{ Name: 'service', Value: hardened.ScheduleBackupLambdaFunction.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME }];
    const backups = byId.BackupsFailedAlarm;
    expect(backups.Metrics.map((m: Json) => [m.Id, m.MetricStat?.Metric ?? m.Expression, m.ReturnData])).toEqual([
      // Powertools writes the `service` dimension from POWERTOOLS_SERVICE_NAME.
      ['verify', { Namespace: 'Strongbox', MetricName: 'BackupsFailed', Dimensions: service }, false],
      ['task', { Namespace: 'Strongbox', MetricName: 'BackupTasksFailed' }, false],
      ['failed', 'FILL(verify, 0) + FILL(task, 0)', true],
    ]);
    expect(backups).toMatchObject({ ComparisonOperator: 'GreaterThanOrEqualToThreshold', Threshold: 1 });
    expect(byId.ValidationsFailedAlarm).toMatchObject({ Namespace: 'Strongbox', MetricName: 'ValidationsFailed', Statistic: 'Sum', Threshold: 1 });
    expect(byId.ValidationsFailedAlarm.Dimensions).toBeUndefined();
    expect(Object.keys(METRIC_UNITS)).toEqual(expect.arrayContaining(['BackupsFailed', 'ArchiveLagSeconds']));
    for (const [, alarm] of alarms().filter(([, a]) => a.MetricName === 'ArchiveLagSeconds')) expect(alarm.Dimensions).toEqual(service);
  });

  it('turns the tasks\' result lines into metrics, matching the lines the tasks really write', async () => {
    const filters: Record<string, Json> = Object.fromEntries(ofType(hardened, 'AWS::Logs::MetricFilter').map(([, f]) => [f.Properties.MetricTransformations[0].MetricName, f.Properties]));
    expect(Object.keys(filters).sort()).toEqual(['BackupTasksFailed', 'ValidationRtoSeconds', 'ValidationsFailed']);
    for (const filter of Object.values(filters)) expect([filter.LogGroupName, filter.MetricTransformations[0].MetricNamespace]).toEqual([{ Ref: 'DumpLogGroup' }, 'Strongbox']);
    expect(filters.ValidationRtoSeconds.MetricTransformations[0].MetricValue).toBe('$.seconds');
    const sources = (await Promise.all(['tasks/validate.ts', 'tasks/dump.ts'].map((file) => readFile(path.join(ROOT, file), 'utf8')))).join('\n');
    for (const filter of Object.values(filters)) {
      for (const [, message] of String(filter.FilterPattern).matchAll(/\$\.message = "([^"]+)"/g)) expect(sources).toContain(`'${message}'`);
    }
  });

  it('alarms on the errors of every function, by its deployed name', () => {
    const functions = ofType(hardened, 'AWS::Lambda::Function').map(([, fn]) => fn.Properties.FunctionName);
    const watched = alarms().filter(([, a]) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'Errors').map(([, a]) => a.Dimensions[0].Value);
    expect(functions.length).toBeGreaterThanOrEqual(7);
    expect(watched.sort()).toEqual([...functions].sort());
  });

  it('alarms when the dead man\'s switch itself stops running', () => {
    const [alarm, ...others] = alarms().filter(([, a]) => a.MetricName === 'Invocations');
    expect(others).toEqual([]);
    expect(alarm![1]).toMatchObject({ Namespace: 'AWS/Lambda', Dimensions: [{ Name: 'FunctionName', Value: 'strongbox-test-deadman' }], ComparisonOperator: 'LessThanThreshold', Threshold: 1, TreatMissingData: 'breaching' });
  });

  it('notifies the alerts topic of every alarm and of its recovery', () => {
    for (const [id, alarm] of alarms()) expect([id, alarm.AlarmActions, alarm.OKActions]).toEqual([id, [{ Ref: 'AlertsTopic' }], [{ Ref: 'AlertsTopic' }]]);
    expect(hardenedTemplate.Resources.AlertsTopic.Properties.KmsMasterKeyId).toEqual({ Ref: 'BackupKey' });
  });

  it('deploy/alarms.cjs names each function as serverless deploys it', () => {
    const { Resources } = alarmsResolver.errorAlarms('strongbox', 'prod', ['scheduleBackup', 'notify-slack']);
    expect(Object.keys(Resources)).toEqual(['ScheduleBackupErrorsAlarm', 'NotifyslackErrorsAlarm']);
    expect(Resources.ScheduleBackupErrorsAlarm.Properties.Dimensions).toEqual([{ Name: 'FunctionName', Value: 'strongbox-prod-scheduleBackup' }]);
  });
});

describe('deploy/protection.cjs: the protection parameters, checked at package time', () => {
  const defaults = { objectLockMode: '', objectLockDays: '30', replicaBucketArn: '', replicaKmsKeyArn: '' };
  it('accepts the defaults and a full set', () => {
    expect(protection.checkProtection(defaults)).toEqual({ objectLockMode: '', objectLockDays: 30, replicaBucketArn: '', replicaKmsKeyArn: '' });
    expect(protection.checkProtection({ objectLockMode: 'GOVERNANCE', objectLockDays: '35', replicaBucketArn: REPLICA_BUCKET, replicaKmsKeyArn: REPLICA_KEY })).toEqual({
      objectLockMode: 'GOVERNANCE', objectLockDays: 35, replicaBucketArn: REPLICA_BUCKET, replicaKmsKeyArn: REPLICA_KEY,
    });
  });

  it.each([
    [{ objectLockMode: 'governance' }, /objectLockMode="governance" is invalid: empty \(off\), GOVERNANCE or COMPLIANCE/],
    [{ objectLockDays: '0' }, /objectLockDays="0" is invalid/],
    [{ objectLockDays: 'a month' }, /objectLockDays/],
    [{ replicaBucketArn: 'strongbox-dr' }, /replicaBucketArn="strongbox-dr" is invalid/],
    [{ replicaBucketArn: REPLICA_BUCKET }, /replicaKmsKeyArn="" is invalid: with replicaBucketArn/],
    [{ replicaBucketArn: REPLICA_BUCKET, replicaKmsKeyArn: 'arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' }, /multi-Region|mrk-/],
    [{ replicaKmsKeyArn: REPLICA_KEY }, /only meaningful with replicaBucketArn/],
  ])('refuses %j', (override, message) => {
    expect(() => protection.checkProtection({ ...defaults, ...override })).toThrow(message);
  });
});
