import { createdResources, list, type Json } from '../../deploy/template';

/**
 * The packaged CloudFormation template as IAM will see it once deployed: every intrinsic
 * resolved to the physical names and ARNs the stack gets in one account and region, and
 * for each principal (a function, the dump task, a state machine) the policies of its role.
 */

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const PARTITION = 'aws';
/** The KMS key's id in this model (CloudFormation generates one). */
const KEY_ID = '11111111-2222-3333-4444-555555555555';

export interface PolicyDocument {
  Version?: string;
  Statement: Json[];
}

export interface Principal {
  /** The function key in serverless.yml (e.g. "archiveEndpoint"), or "dumpTask", "stateMachines", … */
  name: string;
  roleId: string;
  roleArn: string;
  policies: Array<{ name: string; document: PolicyDocument }>;
  /** Managed policies attached (not evaluated: named in the report). */
  managedPolicyArns: string[];
}

export interface StackModel {
  stage: string;
  resources: Record<string, Json>;
  principals: Map<string, Principal>;
  bucketName: string;
  tableName: string;
  alertTopicArn: string;
  keyArn: string;
  /** Resolves any intrinsic of the template. */
  resolve(node: Json): Json;
  /** A function's resource-based policy, as its AWS::Lambda::Permission resources make it. */
  functionPolicy(functionKey: string): PolicyDocument;
  functionArn(functionKey: string): string;
  /** A function's environment variables as deployed (every intrinsic resolved). */
  envOf(functionKey: string): Record<string, string>;
}

function physicalName(id: string, resource: Json, stage: string, resolve: (node: Json) => Json): string {
  const props = resource.Properties ?? {};
  const named = props.BucketName ?? props.TableName ?? props.QueueName ?? props.TopicName ?? props.RoleName ?? props.StateMachineName ?? props.ClusterName ?? props.FunctionName ?? props.LogGroupName ?? props.Family ?? props.Name ?? props.RepositoryName;
  return named !== undefined ? String(resolve(named)) : `strongbox-${stage}-${id}`;
}

function refOf(id: string, resource: Json, stage: string, resolve: (node: Json) => Json): string {
  const name = physicalName(id, resource, stage, resolve);
  switch (resource.Type) {
    case 'AWS::SNS::Topic':
      return `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:${name}`;
    case 'AWS::KMS::Key':
      return KEY_ID;
    case 'AWS::ECS::TaskDefinition':
      return `arn:${PARTITION}:ecs:${REGION}:${ACCOUNT}:task-definition/${name}:1`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
    case 'AWS::SQS::Queue':
      return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
    case 'AWS::IAM::ManagedPolicy':
      return `arn:${PARTITION}:iam::${ACCOUNT}:policy/${name}`;
    default:
      return name;
  }
}

function arnOf(id: string, resource: Json, stage: string, resolve: (node: Json) => Json): string {
  const name = physicalName(id, resource, stage, resolve);
  switch (resource.Type) {
    case 'AWS::S3::Bucket':
      return `arn:${PARTITION}:s3:::${name}`;
    case 'AWS::DynamoDB::Table':
      return `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
    case 'AWS::SNS::Topic':
      return `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:${name}`;
    case 'AWS::SQS::Queue':
      return `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${name}`;
    case 'AWS::KMS::Key':
      return `arn:${PARTITION}:kms:${REGION}:${ACCOUNT}:key/${KEY_ID}`;
    case 'AWS::IAM::Role':
      return `arn:${PARTITION}:iam::${ACCOUNT}:role/${name}`;
    case 'AWS::ECS::Cluster':
      return `arn:${PARTITION}:ecs:${REGION}:${ACCOUNT}:cluster/${name}`;
    case 'AWS::ECS::TaskDefinition':
      return `arn:${PARTITION}:ecs:${REGION}:${ACCOUNT}:task-definition/${name}:1`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
    case 'AWS::Lambda::Function':
      return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${name}`;
    case 'AWS::Logs::LogGroup':
      return `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${name}:*`;
    case 'AWS::ECR::Repository':
      return `arn:${PARTITION}:ecr:${REGION}:${ACCOUNT}:repository/${name}`;
    case 'AWS::Events::Rule':
      return `arn:${PARTITION}:events:${REGION}:${ACCOUNT}:rule/${name}`;
    case 'AWS::IAM::ManagedPolicy':
      return `arn:${PARTITION}:iam::${ACCOUNT}:policy/${name}`;
    default:
      throw new Error(`the model has no ARN for ${id} (${resource.Type})`);
  }
}

/** The model of a packaged template (see packageTemplate). */
export function stackModel(template: Json, stage = 'test'): StackModel {
  const resources = createdResources(template);
  const pseudo: Record<string, string> = {
    'AWS::AccountId': ACCOUNT,
    'AWS::Region': REGION,
    'AWS::Partition': PARTITION,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': `strongbox-${stage}`,
    'AWS::StackId': `arn:${PARTITION}:cloudformation:${REGION}:${ACCOUNT}:stack/strongbox-${stage}/0`,
  };
  const resolving = new Set<string>();
  const resolve = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(resolve);
    if (!node || typeof node !== 'object') return node;
    if (typeof node.Ref === 'string') {
      if (node.Ref in pseudo) return pseudo[node.Ref];
      const resource = resources[node.Ref];
      if (!resource) throw new Error(`Ref to ${node.Ref}, which the template does not create`);
      if (resolving.has(node.Ref)) throw new Error(`circular reference through ${node.Ref}`);
      resolving.add(node.Ref);
      try {
        return refOf(node.Ref, resource, stage, resolve);
      } finally {
        resolving.delete(node.Ref);
      }
    }
    if ('Fn::GetAtt' in node) {
      const [id, attribute] = typeof node['Fn::GetAtt'] === 'string' ? String(node['Fn::GetAtt']).split('.') : node['Fn::GetAtt'];
      const resource = resources[id];
      if (!resource) throw new Error(`GetAtt of ${id}, which the template does not create`);
      if (attribute === 'Arn') return arnOf(id, resource, stage, resolve);
      if (attribute === 'Name' || attribute === 'TopicName' || attribute === 'QueueName') return physicalName(id, resource, stage, resolve);
      if (attribute === 'FunctionUrl') return `https://${id.toLowerCase()}.lambda-url.${REGION}.on.aws/`;
      throw new Error(`the model has no attribute ${attribute} of ${id}`);
    }
    if ('Fn::Sub' in node) {
      const [text, variables] = typeof node['Fn::Sub'] === 'string' ? [node['Fn::Sub'], {}] : node['Fn::Sub'];
      const own = Object.fromEntries(Object.entries(variables as Record<string, Json>).map(([name, value]) => [name, resolve(value)]));
      return String(text).replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
        if (name in own) return String(own[name]);
        if (name in pseudo) return pseudo[name]!;
        const [id, attribute] = name.split('.');
        return String(resolve(attribute ? { 'Fn::GetAtt': [id, attribute] } : { Ref: id }));
      });
    }
    if ('Fn::Join' in node) {
      const [separator, items] = node['Fn::Join'];
      return (resolve(items) as Json[]).join(separator);
    }
    if ('Fn::Select' in node) {
      const [index, items] = node['Fn::Select'];
      return (resolve(items) as Json[])[Number(index)];
    }
    if ('Fn::Split' in node) {
      const [separator, text] = node['Fn::Split'];
      return String(resolve(text)).split(separator);
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, resolve(value)]));
  };

  const principals = new Map<string, Principal>();
  const addRole = (name: string, roleId: string) => {
    const role = resources[roleId];
    if (!role || role.Type !== 'AWS::IAM::Role') throw new Error(`${name}: role ${roleId} is not created by the template`);
    // Managed policies of the template itself are evaluated like inline ones; AWS-managed ones are only named.
    const managed = list<Json>(role.Properties.ManagedPolicyArns);
    const own = managed.filter((arn) => typeof arn?.Ref === 'string' && resources[arn.Ref]?.Type === 'AWS::IAM::ManagedPolicy');
    principals.set(name, {
      name,
      roleId,
      roleArn: arnOf(roleId, role, stage, resolve),
      policies: [
        ...list<Json>(role.Properties.Policies).map((policy) => ({ name: String(resolve(policy.PolicyName)), document: resolve(policy.PolicyDocument) })),
        ...own.map((arn) => ({ name: String(arn.Ref), document: resolve(resources[arn.Ref].Properties.PolicyDocument) })),
        // Stand-alone AWS::IAM::Policy resources attached to this role.
        ...Object.entries(resources)
          .filter(([, policy]) => policy.Type === 'AWS::IAM::Policy' && list<Json>(policy.Properties.Roles).some((ref) => ref?.Ref === roleId))
          .map(([id, policy]) => ({ name: id, document: resolve(policy.Properties.PolicyDocument) })),
      ],
      managedPolicyArns: managed.filter((arn) => !own.includes(arn)).map((arn) => String(resolve(arn))),
    });
  };
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const key = `${id[0]!.toLowerCase()}${id.slice(1).replace(/LambdaFunction$/, '')}`;
    const role = resource.Properties.Role;
    addRole(key, role['Fn::GetAtt'] ? list<string>(role['Fn::GetAtt'])[0]! : String(role).split('.')[0]!);
  }
  if (resources.DumpTaskRole) addRole('dumpTask', 'DumpTaskRole');
  if (resources.JobStateMachineRole) addRole('stateMachines', 'JobStateMachineRole');
  if (resources.ValidateScheduleToStepFunctionsRole) addRole('validateSchedule', 'ValidateScheduleToStepFunctionsRole');

  const functionArn = (functionKey: string): string => {
    const id = `${functionKey[0]!.toUpperCase()}${functionKey.slice(1)}LambdaFunction`;
    if (!resources[id]) throw new Error(`no function ${functionKey} in the template`);
    return arnOf(id, resources[id], stage, resolve);
  };
  const bucket = resources.BackupBucket;
  const table = resources.CatalogTable;
  return {
    stage,
    resources,
    principals,
    bucketName: physicalName('BackupBucket', bucket, stage, resolve),
    tableName: physicalName('CatalogTable', table, stage, resolve),
    alertTopicArn: refOf('AlertsTopic', resources.AlertsTopic, stage, resolve),
    keyArn: arnOf('BackupKey', resources.BackupKey, stage, resolve),
    resolve,
    functionArn,
    envOf(functionKey) {
      const id = `${functionKey[0]!.toUpperCase()}${functionKey.slice(1)}LambdaFunction`;
      const variables = resources[id]?.Properties?.Environment?.Variables ?? {};
      return Object.fromEntries(Object.entries(resolve(variables) as Record<string, Json>).map(([name, value]) => [name, String(value)]));
    },
    functionPolicy(functionKey) {
      const arn = functionArn(functionKey);
      const name = arn.split(':').pop();
      const statements = Object.entries(resources)
        .filter(([, resource]) => resource.Type === 'AWS::Lambda::Permission')
        .map(([id, resource]) => ({ id, props: resolve(resource.Properties) as Json }))
        .filter(({ props }) => props.FunctionName === arn || props.FunctionName === name)
        .map(({ id, props }) => {
          const principal = String(props.Principal);
          const conditions: Json = {};
          if (props.FunctionUrlAuthType) conditions.StringEquals = { 'lambda:FunctionUrlAuthType': props.FunctionUrlAuthType };
          if (props.InvokedViaFunctionUrl === true || props.InvokedViaFunctionUrl === 'true') conditions.Bool = { 'lambda:InvokedViaFunctionUrl': 'true' };
          if (props.SourceArn) conditions.ArnLike = { 'aws:SourceArn': props.SourceArn };
          if (props.SourceAccount) conditions.StringEquals = { ...(conditions.StringEquals ?? {}), 'aws:SourceAccount': props.SourceAccount };
          return {
            Sid: id,
            Effect: 'Allow',
            Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : { AWS: principal },
            Action: props.Action,
            Resource: arn,
            ...(Object.keys(conditions).length ? { Condition: conditions } : {}),
          };
        });
      return { Version: '2012-10-17', Statement: statements };
    },
  };
}
