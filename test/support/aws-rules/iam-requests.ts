import type { RecordedCall } from './recorder';
import { ACCOUNT, PARTITION, REGION, type StackModel } from './stack-model';

/**
 * What IAM authorizes for one recorded SDK call: the action(s), the resource ARN and the
 * condition values IAM would see (from the service authorization reference: which action
 * each operation needs, and the keys it supplies). A call can need several: a PutObject into
 * an SSE-KMS bucket also needs kms:GenerateDataKey through S3; a read of a missing key
 * answers 404 only with s3:ListBucket (the recorder makes it 403 otherwise).
 */
export interface IamRequest {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
  /** What made it necessary, for the report. */
  why: string;
}

const objectArn = (bucket: unknown, key: unknown) => `arn:${PARTITION}:s3:::${String(bucket)}/${String(key)}`;
const bucketArn = (bucket: unknown) => `arn:${PARTITION}:s3:::${String(bucket)}`;
const tableArn = (table: unknown) => `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${String(table)}`;

const S3_OBJECT_ACTIONS: Record<string, string> = {
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  ListParts: 's3:ListMultipartUploadParts',
  DeleteObject: 's3:DeleteObject',
  GetObjectRetention: 's3:GetObjectRetention',
  GetObjectLegalHold: 's3:GetObjectLegalHold',
  RestoreObject: 's3:RestoreObject',
  GetObjectTagging: 's3:GetObjectTagging',
  PutObjectTagging: 's3:PutObjectTagging',
};

/** The partition key values of DynamoDB items or keys (the catalog's key is `pk`). */
function leadingKeys(values: Array<Record<string, unknown> | undefined>): string[] {
  return [...new Set(values.map((value) => value?.pk).filter((pk): pk is string => typeof pk === 'string'))];
}

/** `pk = :x` of a Query's key condition, resolved from its values. */
function queriedKey(input: Record<string, unknown>): string[] {
  const expression = String(input.KeyConditionExpression ?? '');
  const match = /(?:^|\s|\()#?pk\s*=\s*(:[A-Za-z0-9_]+)/.exec(expression) ?? /(:[A-Za-z0-9_]+)\s*=\s*#?pk\b/.exec(expression);
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const viaName = Object.entries(names).find(([, name]) => name === 'pk')?.[0];
  const aliased = viaName ? new RegExp(`${viaName}\\s*=\\s*(:[A-Za-z0-9_]+)`).exec(expression) : null;
  const placeholder = (aliased ?? match)?.[1];
  const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
  const value = placeholder ? values[placeholder] : undefined;
  const plain = value && typeof value === 'object' && 'S' in (value as object) ? (value as { S: string }).S : value;
  return typeof plain === 'string' ? [plain] : [];
}

/** The document client's commands map to the low-level ones. */
const DYNAMO_ACTIONS: Record<string, string> = {
  Get: 'GetItem',
  GetItem: 'GetItem',
  Put: 'PutItem',
  PutItem: 'PutItem',
  Update: 'UpdateItem',
  UpdateItem: 'UpdateItem',
  Delete: 'DeleteItem',
  DeleteItem: 'DeleteItem',
  Query: 'Query',
  Scan: 'Scan',
  BatchWrite: 'BatchWriteItem',
  BatchWriteItem: 'BatchWriteItem',
  BatchGet: 'BatchGetItem',
  BatchGetItem: 'BatchGetItem',
  TransactWrite: 'TransactWriteItems',
  TransactWriteItems: 'TransactWriteItems',
  DescribeTable: 'DescribeTable',
  CreateTable: 'CreateTable',
};

function dynamoRequests(call: RecordedCall): IamRequest[] {
  const operation = DYNAMO_ACTIONS[call.command];
  if (!operation) throw new Error(`no IAM mapping for DynamoDB ${call.command}`);
  const action = `dynamodb:${operation}`;
  const input = call.input;
  const why = `DynamoDB ${call.command}`;
  if (operation === 'BatchWriteItem' || operation === 'BatchGetItem') {
    const requests: IamRequest[] = [];
    for (const [table, items] of Object.entries((input.RequestItems ?? {}) as Record<string, Json[]>)) {
      const keys = operation === 'BatchGetItem' ? ((items as unknown as { Keys?: Json[] }).Keys ?? []) : (items as Json[]).map((item) => item.PutRequest?.Item ?? item.DeleteRequest?.Key);
      requests.push({ action, resource: tableArn(table), context: { 'dynamodb:LeadingKeys': leadingKeys(keys) }, why });
    }
    return requests;
  }
  const table = input.TableName;
  const resource = input.IndexName !== undefined ? `${tableArn(table)}/index/${String(input.IndexName)}` : tableArn(table);
  const keys = operation === 'Query' ? queriedKey(input) : operation === 'Scan' || operation === 'DescribeTable' || operation === 'CreateTable' ? [] : leadingKeys([(input.Key ?? input.Item) as Record<string, unknown>]);
  return [{ action, resource, context: keys.length ? { 'dynamodb:LeadingKeys': keys } : {}, why }];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- SDK inputs are untyped here
type Json = any;

/**
 * The IAM requests of one call. `model` gives the bucket's KMS key and the alert topic's
 * (both encrypted with the stack's key). Throws for a call it has no mapping of, so a new
 * kind of call cannot go unchecked.
 */
export function iamRequestsOf(call: RecordedCall, model: StackModel): IamRequest[] {
  const input = call.input;
  const viaS3 = { 'kms:ViaService': `s3.${REGION}.amazonaws.com` };
  switch (call.service) {
    case 'S3': {
      if (call.command === 'ListObjectsV2' || call.command === 'ListObjects') {
        return [{ action: 's3:ListBucket', resource: bucketArn(input.Bucket), context: input.Prefix !== undefined ? { 's3:prefix': String(input.Prefix) } : {}, why: `S3 ${call.command}` }];
      }
      if (call.command === 'HeadBucket') return [{ action: 's3:ListBucket', resource: bucketArn(input.Bucket), context: {}, why: 'S3 HeadBucket' }];
      // IAM supplies no s3:prefix for this action: a prefix condition on it never matches.
      if (call.command === 'ListMultipartUploads') return [{ action: 's3:ListBucketMultipartUploads', resource: bucketArn(input.Bucket), context: {}, why: 'S3 ListMultipartUploads' }];
      if (call.command === 'DeleteObjects') {
        const objects = ((input.Delete as { Objects?: Array<{ Key: string }> })?.Objects ?? []);
        return objects.map((object) => ({ action: 's3:DeleteObject', resource: objectArn(input.Bucket, object.Key), context: {}, why: 'S3 DeleteObjects' }));
      }
      if (call.command === 'CopyObject') {
        const source = String(input.CopySource ?? '').replace(/^\//, '');
        return [
          { action: 's3:GetObject', resource: `arn:${PARTITION}:s3:::${decodeURIComponent(source)}`, context: {}, why: 'S3 CopyObject (source)' },
          { action: 's3:PutObject', resource: objectArn(input.Bucket, input.Key), context: {}, why: 'S3 CopyObject (target)' },
          { action: 'kms:Decrypt', resource: model.keyArn, context: viaS3, why: 'S3 CopyObject reads an SSE-KMS object' },
          { action: 'kms:GenerateDataKey', resource: model.keyArn, context: viaS3, why: 'S3 CopyObject writes an SSE-KMS object' },
        ];
      }
      const action = S3_OBJECT_ACTIONS[call.command];
      if (!action) throw new Error(`no IAM mapping for S3 ${call.command}`);
      const what = `S3 ${call.command}${call.presigned ? ' (presigned URL: the request is made with this role\'s credentials)' : ''}`;
      const requests: IamRequest[] = [{ action, resource: objectArn(input.Bucket, input.Key), context: {}, why: what }];
      if (action === 's3:PutObject' && call.command !== 'CompleteMultipartUpload') requests.push({ action: 'kms:GenerateDataKey', resource: model.keyArn, context: viaS3, why: `${what} into an SSE-KMS bucket` });
      if (call.command === 'GetObject' && call.outcome === 'ok') requests.push({ action: 'kms:Decrypt', resource: model.keyArn, context: viaS3, why: `${what} of an SSE-KMS object` });
      if ((call.command === 'GetObject' || call.command === 'HeadObject') && call.outcome === 'error' && (call.status === 404 || call.status === 403)) {
        requests.push({ action: 's3:ListBucket', resource: bucketArn(input.Bucket), context: {}, why: `${what} of a missing key: 404 (not 403) needs s3:ListBucket` });
      }
      return requests;
    }
    case 'DynamoDB':
      return dynamoRequests(call);
    case 'SNS': {
      if (call.command !== 'Publish') throw new Error(`no IAM mapping for SNS ${call.command}`);
      const topic = String(input.TopicArn);
      const requests: IamRequest[] = [{ action: 'sns:Publish', resource: topic, context: {}, why: 'SNS Publish' }];
      // The stack's topics are encrypted with its key: SNS asks KMS for a data key on the publisher's behalf.
      if (topic.startsWith(`arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:strongbox-`)) {
        const viaSns = { 'kms:ViaService': `sns.${REGION}.amazonaws.com` };
        requests.push({ action: 'kms:GenerateDataKey', resource: model.keyArn, context: viaSns, why: 'SNS Publish to a topic encrypted with the stack key' });
        requests.push({ action: 'kms:Decrypt', resource: model.keyArn, context: viaSns, why: 'SNS Publish to a topic encrypted with the stack key' });
      }
      return requests;
    }
    case 'Secrets Manager':
      return [{ action: `secretsmanager:${call.command}`, resource: String(input.SecretId), context: {}, why: `Secrets Manager ${call.command}` }];
    case 'SSM':
      return [{ action: `ssm:${call.command}`, resource: `arn:${PARTITION}:ssm:${REGION}:${ACCOUNT}:parameter${String(input.Name)}`, context: {}, why: `SSM ${call.command}` }];
    case 'Lambda': {
      if (call.command !== 'Invoke') throw new Error(`no IAM mapping for Lambda ${call.command}`);
      const name = String(input.FunctionName);
      const arn = name.startsWith('arn:') ? name : `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${name}`;
      return [{ action: 'lambda:InvokeFunction', resource: arn, context: {}, why: `Lambda Invoke (${String(input.InvocationType ?? 'RequestResponse')})` }];
    }
    case 'SFN':
      return [{ action: `states:${call.command}`, resource: String(input.stateMachineArn), context: {}, why: `Step Functions ${call.command}` }];
    case 'ECS': {
      if (call.command !== 'RunTask') throw new Error(`no IAM mapping for ECS ${call.command}`);
      const cluster = String(input.cluster);
      const requests: IamRequest[] = [{ action: 'ecs:RunTask', resource: String(input.taskDefinition), context: { 'ecs:cluster': cluster }, why: 'ECS RunTask' }];
      if (Array.isArray(input.tags) && input.tags.length) {
        requests.push({ action: 'ecs:TagResource', resource: `arn:${PARTITION}:ecs:${REGION}:${ACCOUNT}:task/${cluster.split('/').pop()}/0123456789abcdef`, context: { 'ecs:CreateAction': 'RunTask' }, why: 'ECS RunTask with tags' });
      }
      for (const role of [model.resolve({ 'Fn::GetAtt': ['DumpTaskRole', 'Arn'] }), model.resolve({ 'Fn::GetAtt': ['DumpExecutionRole', 'Arn'] })]) {
        requests.push({ action: 'iam:PassRole', resource: String(role), context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }, why: 'ECS RunTask passes the task definition\'s roles' });
      }
      return requests;
    }
    default:
      throw new Error(`no IAM mapping for ${call.service} ${call.command}`);
  }
}
