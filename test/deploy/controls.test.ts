import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createdResources, list, packageTemplate, ROOT, type Json } from './template';

// AWS Control Tower's proactive controls (its CloudFormation Guard rules) for the services the
// stack uses, checked on the packaged template: once with the stage's defaults, once with every
// optional protection and the VPC on. Each control passes, or is waived in docs/deploy.md
// ("Proactive controls") with its reason. A check reads the template as the Guard rule does,
// except where noted (the rule reads CloudFormation's intrinsic functions syntactically; a check
// here accepts any reference that CloudFormation resolves to what the rule asks for).
const BASE_PARAMS = { configFile: 'test/fixtures/strongbox.config.json', imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/strongbox-dump:1.2.3' };
const HARDENED_PARAMS = {
  ...BASE_PARAMS,
  objectLockMode: 'GOVERNANCE',
  objectLockDays: '35',
  replicaBucketArn: 'arn:aws:s3:::strongbox-dr-123456789012-us-west-2',
  replicaKmsKeyArn: 'arn:aws:kms:us-west-2:123456789012:key/mrk-0123456789abcdef0123456789abcdef',
  archiverRoleArn: 'arn:aws:iam::123456789012:role/app-db-host',
  subnets: 'subnet-0abc,subnet-0def',
  securityGroups: 'sg-0123',
};

const stacks: Array<[string, Record<string, Json>]> = [];
const cleanups: Array<() => Promise<void>> = [];
let docs: string;

beforeAll(async () => {
  // One after the other: packaging rewrites the service's .serverless/ (packageTemplate serializes).
  for (const [name, params] of [['defaults', BASE_PARAMS], ['every protection on', HARDENED_PARAMS]] as const) {
    const packaged = await packageTemplate(params);
    cleanups.push(packaged.cleanup);
    stacks.push([name, createdResources(packaged.template)]);
  }
  docs = await readFile(path.join(ROOT, 'docs/deploy.md'), 'utf8');
}, 400_000);

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

type Resources = Record<string, Json>;
const ofType = (resources: Resources, type: string): Array<[string, Json]> => Object.entries(resources).filter(([, r]) => r.Type === type);
const propsOf = (resources: Resources, type: string): Array<[string, Json]> => ofType(resources, type).map(([id, r]) => [id, r.Properties ?? {}]);
/** The ids for which `bad` holds. */
const failing = (items: Array<[string, Json]>, bad: (props: Json, id: string) => boolean): string[] => items.filter(([id, props]) => bad(props, id)).map(([id]) => id);
const isGetAtt = (value: Json, id: string, attribute = 'Arn') => JSON.stringify(value) === JSON.stringify({ 'Fn::GetAtt': [id, attribute] });
const isTrue = (value: Json) => value === true || value === 'true';

/** Every policy document of the stack's inline policies (roles' Policies, AWS::IAM::Policy) and managed policies. */
function policyDocuments(resources: Resources, kind: 'inline' | 'managed'): Array<[string, Json]> {
  const documents: Array<[string, Json]> = [];
  for (const [id, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    if (kind === 'inline' && ['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'].includes(resource.Type)) {
      for (const policy of list<Json>(props.Policies)) documents.push([`${id}/${policy.PolicyName}`, policy.PolicyDocument]);
    }
    if (kind === 'inline' && resource.Type === 'AWS::IAM::Policy') documents.push([id, props.PolicyDocument]);
    if (kind === 'managed' && resource.Type === 'AWS::IAM::ManagedPolicy') documents.push([id, props.PolicyDocument]);
  }
  return documents;
}
const allows = (document: Json): Json[] => list<Json>(document.Statement).filter((s) => s.Effect === 'Allow');
const everything = (resources: Resources, kind: 'inline' | 'managed') =>
  policyDocuments(resources, kind).flatMap(([id, document]) => allows(document).filter((s) => list(s.Action).includes('*') && list(s.Resource).includes('*')).map(() => id));
const wholeServices = (resources: Resources, kind: 'inline' | 'managed') =>
  policyDocuments(resources, kind).flatMap(([id, document]) => allows(document).filter((s) => 'NotAction' in s || list<string>(s.Action).some((a) => /^[a-z0-9-]+:\*$/.test(a))).map(() => id));

/** Statements of the bucket policies of `bucket`. */
function bucketPolicyStatements(resources: Resources, bucket: string): Json[] {
  return propsOf(resources, 'AWS::S3::BucketPolicy')
    .filter(([, props]) => JSON.stringify(props.Bucket) === JSON.stringify({ Ref: bucket }))
    .flatMap(([, props]) => list<Json>(props.PolicyDocument.Statement));
}

/** The bucket's own ARN and its objects' ARN, as references CloudFormation resolves. */
function coversBucketAndObjects(resource: Json, bucket: string): boolean {
  const resources = list<Json>(resource);
  const arn = { 'Fn::GetAtt': [bucket, 'Arn'] };
  const objects = { 'Fn::Join': ['', [arn, '/*']] };
  return resources.some((r) => JSON.stringify(r) === JSON.stringify(arn)) && resources.some((r) => JSON.stringify(r) === JSON.stringify(objects) || JSON.stringify(r) === JSON.stringify({ 'Fn::Sub': `\${${bucket}.Arn}/*` }));
}

const SERVICE_PRINCIPAL = /\.amazonaws\.com(\.cn)?$/;

/** A control: its id, what it asks, and the resources of a stack that do not comply. */
interface Control { id: string; title: string; violations(resources: Resources): string[] }

const CONTROLS: Control[] = [
  // --- S3 ---
  { id: 'CT.S3.PR.1', title: 'every bucket blocks public access (all four settings)', violations: (r) => failing(propsOf(r, 'AWS::S3::Bucket'), (p) => !['BlockPublicAcls', 'BlockPublicPolicy', 'IgnorePublicAcls', 'RestrictPublicBuckets'].every((k) => isTrue(p.PublicAccessBlockConfiguration?.[k]))) },
  { id: 'CT.S3.PR.2', title: 'every bucket has server access logging', violations: (r) => failing(propsOf(r, 'AWS::S3::Bucket'), (p) => !p.LoggingConfiguration) },
  { id: 'CT.S3.PR.3', title: 'every versioned bucket has an active lifecycle rule', violations: (r) => failing(propsOf(r, 'AWS::S3::Bucket'), (p) => p.VersioningConfiguration?.Status === 'Enabled' && !list<Json>(p.LifecycleConfiguration?.Rules).some((rule) => rule.Status === 'Enabled')) },
  {
    id: 'CT.S3.PR.4',
    title: 'every bucket has event notifications',
    violations: (r) => failing(propsOf(r, 'AWS::S3::Bucket'), (p) => { const n = p.NotificationConfiguration ?? {}; return !(isTrue(n.EventBridgeConfiguration?.EventBridgeEnabled) || ['LambdaConfigurations', 'QueueConfigurations', 'TopicConfigurations'].some((k) => list(n[k]).length > 0)); }),
  },
  { id: 'CT.S3.PR.5', title: 'no bucket grants through ACLs (no AccessControl, object ownership enforced)', violations: (r) => failing(propsOf(r, 'AWS::S3::Bucket'), (p) => 'AccessControl' in p || p.OwnershipControls?.Rules?.[0]?.ObjectOwnership !== 'BucketOwnerEnforced') },
  { id: 'CT.S3.PR.6', title: 'every bucket has an active lifecycle rule', violations: (r) => failing(propsOf(r, 'AWS::S3::Bucket'), (p) => !list<Json>(p.LifecycleConfiguration?.Rules).some((rule) => rule.Status === 'Enabled')) },
  {
    id: 'CT.S3.PR.8',
    title: 'every bucket\'s policy denies every request not over TLS, to the bucket and its objects',
    violations: (r) =>
      ofType(r, 'AWS::S3::Bucket')
        .map(([id]) => id)
        .filter((bucket) => !bucketPolicyStatements(r, bucket).some((s) => s.Effect === 'Deny' && s.Principal === '*' && list(s.Action).every((a) => a === 's3:*' || a === '*') && coversBucketAndObjects(s.Resource, bucket) && JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }))),
  },
  { id: 'CT.S3.PR.9', title: 'every bucket has S3 Object Lock', violations: (r) => failing(propsOf(r, 'AWS::S3::Bucket'), (p) => !isTrue(p.ObjectLockEnabled)) },
  { id: 'CT.S3.PR.10', title: 'every bucket encrypts by default with SSE-KMS', violations: (r) => failing(propsOf(r, 'AWS::S3::Bucket'), (p) => !list<Json>(p.BucketEncryption?.ServerSideEncryptionConfiguration).some((c) => ['aws:kms', 'aws:kms:dsse'].includes(c.ServerSideEncryptionByDefault?.SSEAlgorithm))) },
  { id: 'CT.S3.PR.11', title: 'every bucket is versioned', violations: (r) => failing(propsOf(r, 'AWS::S3::Bucket'), (p) => p.VersioningConfiguration?.Status !== 'Enabled') },
  // --- Lambda ---
  {
    id: 'CT.LAMBDA.PR.2',
    title: 'no function policy allows public access (a service principal only for one source)',
    // The Guard rule reads SourceArn only as a string, Ref or GetAtt; serverless writes the
    // ECS-task rule's as Fn::Join of its ARN, which CloudFormation resolves all the same.
    violations: (r) =>
      failing(propsOf(r, 'AWS::Lambda::Permission'), (p) => {
        if (p.FunctionUrlAuthType === 'NONE') return true;
        if (p.Principal === '*') return !(p.SourceAccount || p.SourceArn || p.PrincipalOrgID);
        if (typeof p.Principal === 'string' && SERVICE_PRINCIPAL.test(p.Principal)) return !(p.SourceAccount || p.SourceArn);
        return !(typeof p.Principal === 'string' && /^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:.+)$/.test(p.Principal));
      }),
  },
  { id: 'CT.LAMBDA.PR.3', title: 'every function runs in a customer VPC', violations: (r) => failing(propsOf(r, 'AWS::Lambda::Function'), (p) => !(list(p.VpcConfig?.SubnetIds).length > 0 && list(p.VpcConfig?.SecurityGroupIds).length > 0)) },
  { id: 'CT.LAMBDA.PR.4', title: 'no layer is shared with every account', violations: (r) => failing(propsOf(r, 'AWS::Lambda::LayerVersionPermission'), (p) => p.Principal === '*' && !p.OrganizationId) },
  { id: 'CT.LAMBDA.PR.5', title: 'every function URL authenticates with IAM', violations: (r) => failing(propsOf(r, 'AWS::Lambda::Url'), (p) => p.AuthType !== 'AWS_IAM') },
  { id: 'CT.LAMBDA.PR.6', title: 'no function URL allows every origin (CORS)', violations: (r) => failing(propsOf(r, 'AWS::Lambda::Url'), (p) => list(p.Cors?.AllowOrigins).includes('*')) },
  // --- DynamoDB ---
  { id: 'CT.DYNAMODB.PR.1', title: 'every table has point-in-time recovery', violations: (r) => failing(propsOf(r, 'AWS::DynamoDB::Table'), (p) => !isTrue(p.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled)) },
  { id: 'CT.DYNAMODB.PR.2', title: 'every table is encrypted with a KMS key', violations: (r) => failing(propsOf(r, 'AWS::DynamoDB::Table'), (p) => !isTrue(p.SSESpecification?.SSEEnabled)) },
  // --- Step Functions ---
  {
    id: 'CT.STEPFUNCTIONS.PR.1',
    title: 'every state machine logs (ERROR or ALL) to a CloudWatch log group of the stack',
    violations: (r) =>
      failing(propsOf(r, 'AWS::StepFunctions::StateMachine'), (p) => {
        const logging = p.LoggingConfiguration;
        const destinations = list<Json>(logging?.Destinations);
        return !(['ERROR', 'ALL'].includes(logging?.Level) && destinations.length > 0 && destinations.every((d) => r[d.CloudWatchLogsLogGroup?.LogGroupArn?.['Fn::GetAtt']?.[0]]?.Type === 'AWS::Logs::LogGroup'));
      }),
  },
  { id: 'CT.STEPFUNCTIONS.PR.2', title: 'every state machine traces with X-Ray', violations: (r) => failing(propsOf(r, 'AWS::StepFunctions::StateMachine'), (p) => !isTrue(p.TracingConfiguration?.Enabled)) },
  // --- ECS ---
  { id: 'CT.ECS.PR.2', title: 'every cluster has Container Insights', violations: (r) => failing(propsOf(r, 'AWS::ECS::Cluster'), (p) => !list<Json>(p.ClusterSettings).some((s) => s.Name === 'containerInsights' && s.Value === 'enabled')) },
  {
    id: 'CT.ECS.PR.3',
    title: 'every container runs as a user that is not root',
    violations: (r) => failing(propsOf(r, 'AWS::ECS::TaskDefinition'), (p) => list<Json>(p.ContainerDefinitions).some((c) => c.User === undefined || ['0', 'root'].includes(String(c.User)) || /^(0|root):/.test(String(c.User)))),
  },
  { id: 'CT.ECS.PR.4', title: 'every task definition uses awsvpc networking', violations: (r) => failing(propsOf(r, 'AWS::ECS::TaskDefinition'), (p) => p.NetworkMode !== 'awsvpc') },
  { id: 'CT.ECS.PR.5', title: 'every container has a logging configuration', violations: (r) => failing(propsOf(r, 'AWS::ECS::TaskDefinition'), (p) => list<Json>(p.ContainerDefinitions).some((c) => !c.LogConfiguration?.LogDriver)) },
  { id: 'CT.ECS.PR.6', title: 'every container\'s root filesystem is read-only', violations: (r) => failing(propsOf(r, 'AWS::ECS::TaskDefinition'), (p) => list<Json>(p.ContainerDefinitions).some((c) => !isTrue(c.ReadonlyRootFilesystem))) },
  { id: 'CT.ECS.PR.7', title: 'every container has a hard memory limit', violations: (r) => failing(propsOf(r, 'AWS::ECS::TaskDefinition'), (p) => list<Json>(p.ContainerDefinitions).some((c) => !(typeof c.Memory === 'number' && c.Memory >= 4))) },
  { id: 'CT.ECS.PR.10', title: 'no task definition shares the host\'s process namespace', violations: (r) => failing(propsOf(r, 'AWS::ECS::TaskDefinition'), (p) => p.PidMode === 'host') },
  { id: 'CT.ECS.PR.11', title: 'no container is privileged', violations: (r) => failing(propsOf(r, 'AWS::ECS::TaskDefinition'), (p) => list<Json>(p.ContainerDefinitions).some((c) => isTrue(c.Privileged))) },
  {
    id: 'CT.ECS.PR.12',
    title: 'no container carries AWS credentials in its environment',
    violations: (r) => failing(propsOf(r, 'AWS::ECS::TaskDefinition'), (p) => list<Json>(p.ContainerDefinitions).some((c) => list<Json>(c.Environment).some((e) => ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'ECS_ENGINE_AUTH_DATA'].includes(e.Name)))),
  },
  // --- ECR ---
  { id: 'CT.ECR.PR.1', title: 'every repository has a lifecycle policy', violations: (r) => failing(propsOf(r, 'AWS::ECR::Repository'), (p) => !p.LifecyclePolicy?.LifecyclePolicyText) },
  { id: 'CT.ECR.PR.2', title: 'every repository scans images on push', violations: (r) => failing(propsOf(r, 'AWS::ECR::Repository'), (p) => !isTrue(p.ImageScanningConfiguration?.ScanOnPush)) },
  { id: 'CT.ECR.PR.3', title: 'every repository has immutable tags', violations: (r) => failing(propsOf(r, 'AWS::ECR::Repository'), (p) => p.ImageTagMutability !== 'IMMUTABLE') },
  // --- IAM ---
  { id: 'CT.IAM.PR.1', title: 'no inline policy allows * on *', violations: (r) => everything(r, 'inline') },
  { id: 'CT.IAM.PR.2', title: 'no customer managed policy allows * on *', violations: (r) => everything(r, 'managed') },
  { id: 'CT.IAM.PR.3', title: 'no customer managed policy allows a whole service or uses NotAction with Allow', violations: (r) => wholeServices(r, 'managed') },
  { id: 'CT.IAM.PR.4', title: 'no IAM user has policies of its own', violations: (r) => failing(propsOf(r, 'AWS::IAM::User'), (p) => list(p.Policies).length > 0 || list(p.ManagedPolicyArns).length > 0) },
  { id: 'CT.IAM.PR.5', title: 'no inline policy allows a whole service or uses NotAction with Allow', violations: (r) => wholeServices(r, 'inline') },
  // --- KMS ---
  { id: 'CT.KMS.PR.1', title: 'every key rotates', violations: (r) => failing(propsOf(r, 'AWS::KMS::Key'), (p) => (p.KeySpec ?? 'SYMMETRIC_DEFAULT') === 'SYMMETRIC_DEFAULT' && !isTrue(p.EnableKeyRotation)) },
  { id: 'CT.KMS.PR.2', title: 'no RSA encryption key of 2048 bits', violations: (r) => failing(propsOf(r, 'AWS::KMS::Key'), (p) => p.KeySpec === 'RSA_2048' && p.KeyUsage === 'ENCRYPT_DECRYPT') },
  {
    id: 'CT.KMS.PR.3',
    title: 'every key policy lets only AWS services create grants',
    violations: (r) =>
      failing(propsOf(r, 'AWS::KMS::Key'), (p) =>
        !list<Json>(p.KeyPolicy?.Statement).some(
          (s) =>
            s.Effect === 'Deny' &&
            s.Principal === '*' &&
            list(s.Action).every((a) => a === 'kms:CreateGrant') &&
            s.Resource === '*' &&
            JSON.stringify(s.Condition) === JSON.stringify({ BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } }),
        ),
      ),
  },
  // --- CloudWatch ---
  { id: 'CT.CLOUDWATCH.PR.1', title: 'every alarm has an action for the ALARM state', violations: (r) => failing(propsOf(r, 'AWS::CloudWatch::Alarm'), (p) => list(p.AlarmActions).length === 0) },
  { id: 'CT.CLOUDWATCH.PR.2', title: 'every log group is kept at least a year', violations: (r) => failing(propsOf(r, 'AWS::Logs::LogGroup'), (p) => p.RetentionInDays !== undefined && Number(p.RetentionInDays) < 365) },
  { id: 'CT.CLOUDWATCH.PR.3', title: 'every log group is encrypted with a KMS key: the stack\'s', violations: (r) => failing(propsOf(r, 'AWS::Logs::LogGroup'), (p) => !isGetAtt(p.KmsKeyId, 'BackupKey')) },
  { id: 'CT.CLOUDWATCH.PR.4', title: 'no alarm has its actions turned off', violations: (r) => failing(propsOf(r, 'AWS::CloudWatch::Alarm'), (p) => p.ActionsEnabled !== undefined && !isTrue(p.ActionsEnabled)) },
];

/** The rows of the table in docs/deploy.md, "Proactive controls": id → [status, reason]. */
function documentedControls(): Map<string, { status: string; reason: string }> {
  const section = docs.split(/^## Proactive controls/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, { status: string; reason: string }>();
  for (const [, id, status, reason] of section.matchAll(/^\| `(CT\.[A-Z0-9]+\.PR\.\d+)` \| [^|]+ \| (passes|waived) \| (.*) \|$/gm)) rows.set(id!, { status: status!, reason: reason!.trim() });
  return rows;
}

describe('AWS Control Tower proactive controls, on the packaged template', () => {
  const documented = () => documentedControls();

  for (const control of CONTROLS) {
    it(`${control.id}: ${control.title}`, () => {
      const violations = stacks.flatMap(([name, resources]) => control.violations(resources).map((id) => `${name}: ${id}`));
      const row = documented().get(control.id);
      expect(row, `${control.id} is missing from the table in docs/deploy.md`).toBeDefined();
      if (row!.status === 'waived') {
        // Waived with its reason; and still needed (a control that passes loses its waiver).
        expect(row!.reason.length).toBeGreaterThan(40);
        expect(violations).not.toEqual([]);
      } else {
        expect(violations).toEqual([]);
      }
    });
  }

  it('documents exactly these controls, and waives only the ones listed', () => {
    expect([...documented().keys()].sort()).toEqual(CONTROLS.map((c) => c.id).sort());
    expect([...documented()].filter(([, row]) => row.status === 'waived').map(([id]) => id).sort()).toEqual(['CT.ECR.PR.3', 'CT.LAMBDA.PR.3', 'CT.S3.PR.2', 'CT.S3.PR.9']);
  });

  it('finds the resources the controls are about (a renamed type would pass vacuously)', () => {
    const [, resources] = stacks[0]!;
    const count = (type: string) => ofType(resources, type).length;
    expect([count('AWS::S3::Bucket'), count('AWS::ECS::Cluster'), count('AWS::ECS::TaskDefinition'), count('AWS::StepFunctions::StateMachine'), count('AWS::KMS::Key'), count('AWS::DynamoDB::Table'), count('AWS::Lambda::Url')]).toEqual([2, 1, 1, 3, 1, 1, 1]);
    expect(count('AWS::Logs::LogGroup')).toBe(count('AWS::Lambda::Function') + 2);
    expect(count('AWS::Lambda::Permission')).toBeGreaterThan(10);
  });
});

describe('the hardening the issue names', () => {
  it('lets CloudWatch Logs use the key for the stack\'s log groups only, as AWS documents it', () => {
    for (const [, resources] of stacks) {
      const statements = list<Json>(resources.BackupKey.Properties.KeyPolicy.Statement);
      const logs = statements.filter((s) => s.Principal?.Service?.['Fn::Sub'] === 'logs.${AWS::Region}.amazonaws.com');
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatchObject({ Effect: 'Allow', Resource: '*', Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'] });
      const patterns = list<Json>(logs[0].Condition.ArnLike['kms:EncryptionContext:aws:logs:arn']).map((p) => String(p['Fn::Sub']));
      // Every log group of the stack matches one pattern (the encryption context is the log group's ARN, without ':*').
      const names = propsOf(resources, 'AWS::Logs::LogGroup').map(([, p]) => String(p.LogGroupName));
      const globToRegExp = (glob: string) => new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
      const arnOf = (name: string) => `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:${name}`;
      for (const name of names) expect(patterns.some((p) => globToRegExp(p).test(arnOf(name))), name).toBe(true);
      // And nothing outside the stack: no pattern matches another stage's or another service's group.
      for (const other of ['/aws/lambda/strongbox-prod-checksum', '/aws/lambda/other-test-checksum', '/strongbox/prod/dump', '/aws/vendedlogs/states/strongbox-prod']) {
        expect(patterns.some((p) => globToRegExp(p).test(arnOf(other))), other).toBe(false);
      }
    }
  });

  it('delivers the state machines\' logs through rights the state machines wait for', () => {
    const [, resources] = stacks[0]!;
    const policy = resources.JobStateMachineObservabilityPolicy;
    expect(policy.Properties.Roles).toEqual([{ Ref: 'JobStateMachineRole' }]);
    const actions = allows(policy.Properties.PolicyDocument).flatMap((s) => list<string>(s.Action));
    expect(actions).toEqual(expect.arrayContaining(['logs:CreateLogDelivery', 'logs:PutResourcePolicy', 'logs:DescribeLogGroups', 'xray:PutTraceSegments']));
    for (const [id, machine] of ofType(resources, 'AWS::StepFunctions::StateMachine')) {
      expect([id, list(machine.DependsOn)]).toEqual([id, expect.arrayContaining(['JobStateMachineObservabilityPolicy'])]);
      expect(machine.Properties.RoleArn).toEqual({ 'Fn::GetAtt': ['JobStateMachineRole', 'Arn'] });
    }
    expect(resources.StateMachineLogGroup.Properties.LogGroupName).toBe('/aws/vendedlogs/states/strongbox-test');
  });

  it('runs the task as the image\'s own unprivileged user, within the task\'s memory', async () => {
    const dockerfile = await readFile(path.join(ROOT, 'tasks/Dockerfile'), 'utf8');
    // The image's user is `node`, and its build checks that `node` is 1000:1000.
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain('RUN test "$(id -u node):$(id -g node)" = "1000:1000"');
    const task = stacks[0]![1].DumpTaskDefinition.Properties;
    const [container] = task.ContainerDefinitions;
    expect(container.User).toBe('1000:1000');
    expect(container.Memory).toBe(Number(task.Memory));
  });

  it('hardens the deployment bucket as the backup bucket: key, versions, public access, ACLs, TLS, lifecycle', () => {
    for (const [, resources] of stacks) {
      const backup = resources.BackupBucket.Properties;
      const deployment = resources.ServerlessDeploymentBucket.Properties;
      expect(deployment.BucketEncryption).toEqual(backup.BucketEncryption);
      expect(deployment.VersioningConfiguration).toEqual(backup.VersioningConfiguration);
      expect(deployment.PublicAccessBlockConfiguration).toEqual(backup.PublicAccessBlockConfiguration);
      expect(deployment.OwnershipControls).toEqual(backup.OwnershipControls);
      const byId = (rules: Json[], id: string) => rules.find((rule) => rule.Id === id);
      for (const id of ['abort-incomplete-multipart-uploads', 'expire-noncurrent-versions']) {
        expect(byId(deployment.LifecycleConfiguration.Rules, id)).toEqual(byId(backup.LifecycleConfiguration.Rules, id));
      }
      const conditions = (bucket: string) => bucketPolicyStatements(resources, bucket).map((s) => [s.Sid, s.Effect, s.Action, s.Condition]);
      expect(conditions('ServerlessDeploymentBucket')).toEqual(conditions('BackupBucket'));
    }
  });
});
