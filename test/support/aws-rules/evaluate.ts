import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { Json } from '../../deploy/template';
import type { IamRequest } from './iam-requests';
import { ACCOUNT, type Principal, type StackModel } from './stack-model';

/**
 * IAM's decision on a request made by one of the stack's principals, with the packaged
 * identity policies and the resource's own policy (bucket policy, topic policy, key
 * policy), by @cloud-copilot/iam-simulate (a maintained evaluator of IAM's logic).
 */
export interface Decision {
  allowed: boolean;
  result: string;
  /** `<policy name>#<statement index, from 0>` of each identity statement that allowed it. */
  usedStatements: string[];
  /** Validation errors of the simulation (a bad action name, resource type or context key). */
  errors?: string;
}

function resourcePolicyFor(model: StackModel, request: IamRequest): Json | undefined {
  const resources = Object.values(model.resources);
  if (request.action.startsWith('s3:')) {
    const policy = resources.find((resource) => resource.Type === 'AWS::S3::BucketPolicy' && model.resolve(resource.Properties.Bucket) === model.bucketName);
    return policy ? model.resolve(policy.Properties.PolicyDocument) : undefined;
  }
  if (request.action.startsWith('sns:')) {
    const policy = resources.find((resource) => resource.Type === 'AWS::SNS::TopicPolicy' && (model.resolve(resource.Properties.Topics) as string[]).includes(request.resource));
    return policy ? model.resolve(policy.Properties.PolicyDocument) : undefined;
  }
  if (request.action.startsWith('kms:') && request.resource === model.keyArn) return model.resolve(model.resources.BackupKey.Properties.KeyPolicy);
  return undefined;
}

/** The session a Lambda function or task runs as (its role, assumed). */
export function sessionArn(principal: Principal): string {
  return principal.roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/') + '/session';
}

const decisions = new Map<string, Promise<Decision>>();

/** IAM's decision (memoised per principal and request). */
export function decide(model: StackModel, principal: Principal, request: IamRequest): Promise<Decision> {
  const key = JSON.stringify([principal.name, request.action, request.resource, request.context]);
  let decision = decisions.get(key);
  if (!decision) {
    decision = simulate(model, principal, request);
    decisions.set(key, decision);
  }
  return decision;
}

async function simulate(model: StackModel, principal: Principal, request: IamRequest): Promise<Decision> {
  const identityPolicies = principal.policies.map((policy) => ({ name: policy.name, policy: { Version: '2012-10-17', ...policy.document } }));
  const resourcePolicy = resourcePolicyFor(model, request);
  const simulation: Simulation = {
    request: {
      principal: sessionArn(principal),
      action: request.action,
      resource: { resource: request.resource, accountId: request.resource.startsWith('arn:aws:s3:::') ? ACCOUNT : (request.resource.split(':')[4] || ACCOUNT) },
      contextVariables: {
        'aws:SecureTransport': 'true',
        'aws:PrincipalArn': principal.roleArn,
        'aws:PrincipalAccount': ACCOUNT,
        ...request.context,
      },
    },
    identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy } : {}),
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType === 'error') return { allowed: false, result: 'SimulationError', usedStatements: [], errors: JSON.stringify(response.errors) };
  const result = response.overallResult;
  const analyses = response.resultType === 'single' ? [response.result] : response.results;
  const used = new Set<string>();
  for (const analysis of analyses) {
    for (const statement of analysis.analysis.identityAnalysis?.allowStatements ?? []) used.add(`${statement.policyId}#${statement.statement.index() - 1}`);
  }
  return { allowed: result === 'Allowed', result, usedStatements: [...used] };
}

/**
 * Whether `principalArn` (a role outside the stack with no identity policy of its own for
 * the function, e.g. the database hosts') may make `action` on the function, by the
 * function's resource-based policy alone.
 */
export async function decideByFunctionPolicy(model: StackModel, functionKey: string, principalArn: string, action: string, context: Record<string, string>): Promise<Decision> {
  const response = await runSimulation(
    {
      request: { principal: principalArn, action, resource: { resource: model.functionArn(functionKey), accountId: ACCOUNT }, contextVariables: { 'aws:SecureTransport': 'true', ...context } },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: model.functionPolicy(functionKey),
    },
    {},
  );
  if (response.resultType === 'error') return { allowed: false, result: 'SimulationError', usedStatements: [], errors: JSON.stringify(response.errors) };
  return { allowed: response.overallResult === 'Allowed', result: response.overallResult, usedStatements: [] };
}
