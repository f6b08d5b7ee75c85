import type { StackModel } from '../support/aws-rules/stack-model';
import type { ListedCall } from '../support/aws-rules/world';

/**
 * The calls the suites cannot make here, reviewed: each with the code (or the AWS service,
 * acting with the role) that makes it in AWS. They are evaluated against the packaged
 * policies exactly like the recorded calls, and count as uses of the grants they need.
 * Adding a line here is a review decision: prefer a scenario in functions.test.ts.
 */
export function unreachedCalls(model: StackModel): ListedCall[] {
  const calls: ListedCall[] = [];
  const region = 'eu-west-1';
  const account = '123456789012';
  const cluster = String(model.resolve({ 'Fn::GetAtt': ['EcsCluster', 'Arn'] }));
  const taskDefinition = String(model.resolve({ Ref: 'DumpTaskDefinition' }));
  const task = `arn:aws:ecs:${region}:${account}:task/${cluster.split('/').pop()}/0123456789abcdef`;
  const roles = ['DumpTaskRole', 'DumpExecutionRole'].map((id) => String(model.resolve({ 'Fn::GetAtt': [id, 'Arn'] })));
  const add = (principal: string, codePath: string, action: string, resource: string, context: Record<string, string> = {}) =>
    calls.push({ principal, codePath, request: { action, resource, context, why: codePath } });

  // The Lambda runtime writes each function's logs with the function's role.
  for (const [id, resource] of Object.entries(model.resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const key = `${id[0]!.toLowerCase()}${id.slice(1).replace(/LambdaFunction$/, '')}`;
    const name = String(model.resolve(resource.Properties.FunctionName ?? `strongbox-${model.stage}-${key}`));
    const group = `arn:aws:logs:${region}:${account}:log-group:/aws/lambda/${name}`;
    add(key, 'the Lambda runtime (function logs)', 'logs:CreateLogStream', `${group}:log-stream:2026/12/04/[$LATEST]0123`);
    add(key, 'the Lambda runtime (function logs)', 'logs:PutLogEvents', `${group}:log-stream:2026/12/04/[$LATEST]0123`);
  }

  // Lambda sends an asynchronous invocation that failed after its retries to the failures
  // queue (the function's on-failure destination, deploy/failures.yml) with the function's role.
  if (model.resources.AsyncFailuresQueue) {
    const queue = String(model.resolve({ 'Fn::GetAtt': ['AsyncFailuresQueue', 'Arn'] }));
    for (const [id, resource] of Object.entries(model.resources)) {
      if (resource.Type !== 'AWS::Lambda::EventInvokeConfig') continue;
      const fn = String(resource.Properties.FunctionName?.Ref ?? '').replace(/LambdaFunction$/, '');
      add(`${fn[0]!.toLowerCase()}${fn.slice(1)}`, `the Lambda service (on-failure destination, ${id})`, 'sqs:SendMessage', queue);
    }
  }

  // Lambda creates the checkpoint's network interfaces in the databases' subnets with its role.
  if (model.resources.WalCheckpointLambdaFunction?.Properties?.VpcConfig) {
    for (const action of ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses']) {
      add('walCheckpoint', 'the Lambda service (VPC networking of walCheckpoint)', action, '*');
    }
  }

  // The restore, restore-table and validate state machines (deploy/stepfunctions.yml): ecs:runTask.sync.
  const machines = 'Step Functions, ecs:runTask.sync in deploy/stepfunctions.yml';
  add('stateMachines', machines, 'ecs:RunTask', taskDefinition, { 'ecs:cluster': cluster });
  add('stateMachines', machines, 'ecs:DescribeTasks', task);
  add('stateMachines', machines, 'ecs:StopTask', task);
  for (const role of roles) add('stateMachines', machines, 'iam:PassRole', role, { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' });
  for (const action of ['events:PutTargets', 'events:PutRule', 'events:DescribeRule']) {
    add('stateMachines', machines, action, `arn:aws:events:${region}:${account}:rule/StepFunctionsGetEventsForECSTaskRule`);
  }
  add('stateMachines', 'Step Functions, the failure alert state (sns:publish)', 'sns:Publish', model.alertTopicArn);
  add('stateMachines', 'SNS on behalf of that state (encrypted topic)', 'kms:GenerateDataKey', model.keyArn, { 'kms:ViaService': `sns.${region}.amazonaws.com` });
  add('stateMachines', 'SNS on behalf of that state (encrypted topic)', 'kms:Decrypt', model.keyArn, { 'kms:ViaService': `sns.${region}.amazonaws.com` });

  // Their logging (CloudWatch Logs vended delivery) and X-Ray tracing (deploy/observability.yml):
  // AWS documents these actions as taking no resource but '*'.
  const observability = 'Step Functions, logging and X-Ray tracing of the state machines (deploy/observability.yml)';
  for (const action of ['logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups']) {
    add('stateMachines', observability, action, '*');
  }
  for (const action of ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets']) add('stateMachines', observability, action, '*');

  // EventBridge starts the monthly drill.
  if (model.resources.ValidateScheduleToStepFunctionsRole) {
    add('validateSchedule', 'EventBridge (the monthly validation schedule)', 'states:StartExecution', String(model.resolve({ Ref: 'ValidateStateMachine' })));
  }

  // The restore and validation programs of the task image (tasks/restore.ts, tasks/validate.ts,
  // tasks/restore-table.ts through tasks/job-task.ts): their catalog and storage calls.
  const bucket = model.bucketName;
  const jobs = 'tasks/restore.ts, tasks/restore-table.ts, tasks/validate.ts (shared/usecases/restore, restore-table, validate)';
  add('dumpTask', `${jobs}: the dump download`, 's3:GetObject', `arn:aws:s3:::${bucket}/logical/monthly/app/20261201T030000Z-l-0a1b/dump`);
  add('dumpTask', `${jobs}: the retrieval of a backup in GLACIER`, 's3:RestoreObject', `arn:aws:s3:::${bucket}/logical/monthly/app/20261201T030000Z-l-0a1b/dump`);
  add('dumpTask', 'tasks/restore-table.ts as of a moment: wal-fetch of its scratch cluster through the task\'s own endpoint', 's3:GetObject', `arn:aws:s3:::${bucket}/wal/app/0000000100000000/000000010000000000000003.zst`);
  add('dumpTask', `${jobs}: the retrieval of a base backup in GLACIER`, 's3:RestoreObject', `arn:aws:s3:::${bucket}/base/monthly/app/20261201T030000Z-b-0a1b/dump.zst`);
  // A verification that would outlast the checksum function's invocation is handed to an
  // asynchronous invocation of itself (functions/checksum.ts, LambdaVerifyHandOver): objects
  // that large cannot be made here.
  add('checksum', 'functions/checksum.ts (LambdaVerifyHandOver)', 'lambda:InvokeFunction', `arn:aws:lambda:${region}:${account}:function:strongbox-${model.stage}-checksum`);
  return calls;
}
