/**
 * `sls package`: the three state machines, the monthly drill schedule, and least-privilege
 * roles for the machines, the schedule and the three functions that start them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { definitionOf, packagedTemplate } from './support';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- CloudFormation is untyped JSON
let template: Json;
let R: Record<string, Json>;

beforeAll(async () => {
  template = await packagedTemplate();
  R = template.Resources;
}, 180_000);

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const statementsOf = (role: Json): Json[] => role.Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement);

const MACHINES = [
  ['RestoreStateMachine', 'strongbox-test-restore', 'RunRestore', 'dist/task-restore.js', 'RESTORE_FAILED'],
  ['RestoreTableStateMachine', 'strongbox-test-restore-table', 'RunRestoreTable', 'dist/task-restore-table.js', 'RESTORE_TABLE_FAILED'],
  ['ValidateStateMachine', 'strongbox-test-validate', 'RunValidation', 'dist/task-validate.js', 'VALIDATION_FAILED'],
] as const;

describe('sls package: state machines', () => {
  it.each(MACHINES)('%s runs %s\'s program as the dump task (.sync), retries launch errors, alerts and fails', (id, name, runState, program, failure) => {
    const machine = R[id];
    expect(machine.Type).toBe('AWS::StepFunctions::StateMachine');
    expect(machine.Properties.StateMachineName).toBe(name);
    expect(machine.Properties.RoleArn).toEqual({ 'Fn::GetAtt': ['JobStateMachineRole', 'Arn'] });
    const params = machine.Properties.DefinitionString['Fn::Sub'][1];
    expect(Object.values(params).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([{ 'Fn::GetAtt': ['EcsCluster', 'Arn'] }, { Ref: 'AlertsTopic' }, { Ref: 'DumpTaskDefinition' }]);
    const states = definitionOf(template, id, { localRun: false }).States;
    const run = states[runState];
    expect(run.Resource).toBe('arn:aws:states:::ecs:runTask.sync');
    expect(run.Parameters.Overrides).toEqual({
      'Cpu.$': '$.resources.cpu',
      'Memory.$': '$.resources.memory',
      EphemeralStorage: { 'SizeInGiB.$': '$.resources.ephemeralStorageGiB' },
      ContainerOverrides: [{ Name: 'dump', Command: ['node', program], 'Memory.$': '$.resources.containerMemory', Environment: [{ Name: 'STRONGBOX_JOB', 'Value.$': 'States.JsonToString($.job)' }] }],
    });
    // The task is sized per run from the input's `resources`; without them, the stage's defaults.
    expect(states.Sized).toMatchObject({ Type: 'Choice', Choices: [{ Variable: '$.resources', IsPresent: true, Next: runState }], Default: 'DefaultResources' });
    expect(states.DefaultResources).toMatchObject({
      Type: 'Pass',
      Parameters: { cpu: '1024', memory: '2048', containerMemory: 2048, ephemeralStorageGiB: runState === 'RunValidation' ? 200 : 50 },
      ResultPath: '$.resources',
      Next: runState,
    });
    expect(run.Retry).toEqual([{ ErrorEquals: ['ECS.AmazonECSException', 'ECS.ServerException', 'ECS.LimitExceededException', 'AmazonECS.Unknown'], IntervalSeconds: 30, MaxAttempts: 3, BackoffRate: 2 }]);
    expect(run.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'DescribeFailure' }]);
    expect(states.DescribeFailure).toMatchObject({ Type: 'Pass', Parameters: { type: failure }, Next: 'PublishFailure' });
    expect(states.PublishFailure).toMatchObject({ Resource: 'arn:aws:states:::sns:publish', Next: 'Failed', Parameters: { 'Message.$': '$.alert' } });
    expect(states.Failed).toMatchObject({ Type: 'Fail', Error: failure });
    expect(JSON.stringify(states)).not.toMatch(/password/i);
  });

  it('starts the validation machine monthly through the dispatcher (no rule per database), which may start only it', () => {
    const rules = Object.values(R).filter((r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties.Targets).includes('ValidateStateMachine'));
    expect(rules).toEqual([]);
    const statements = statementsOf(R[R.DispatchLambdaFunction.Properties.Role['Fn::GetAtt'][0]]).filter((s: Json) => [s.Action].flat().includes('states:StartExecution'));
    expect(statements).toEqual([{ Effect: 'Allow', Action: ['states:StartExecution'], Resource: { Ref: 'ValidateStateMachine' } }]);
  });
});

describe('sls package: least privilege for the state machines and their functions', () => {
  it('lets the machines run only the dump task definition in our cluster, pass only its roles, publish only to the alerts topic', () => {
    const role = R.JobStateMachineRole;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } } },
    ]);
    expect(statementsOf(role)).toEqual([
      { Effect: 'Allow', Action: ['ecs:RunTask'], Resource: { Ref: 'DumpTaskDefinition' }, Condition: { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': ['EcsCluster', 'Arn'] } } } },
      { Effect: 'Allow', Action: ['ecs:DescribeTasks', 'ecs:StopTask'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/strongbox-test/*' } },
      {
        Effect: 'Allow',
        Action: ['iam:PassRole'],
        Resource: [{ 'Fn::GetAtt': ['DumpTaskRole', 'Arn'] }, { 'Fn::GetAtt': ['DumpExecutionRole', 'Arn'] }],
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      },
      { Effect: 'Allow', Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/StepFunctionsGetEventsForECSTaskRule' } },
      { Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'AlertsTopic' } },
      { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: { 'Fn::GetAtt': ['BackupKey', 'Arn'] }, Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'sns.${AWS::Region}.amazonaws.com' } } } },
    ]);
    // No role the plugin would have generated with RunTask/PassRole on `*`.
    expect(Object.keys(R).filter((id) => /StateMachineRole$/.test(id))).toEqual(['JobStateMachineRole']);
  });

  it.each([
    // Query twice: on the table (item reads) and on its indexes, in separate statements.
    // Each reads its backup's manifest (s3:GetObject, kms:Decrypt): its sizes size the task.
    ['Restore', 'RestoreStateMachine', ['s3:GetObject', 'kms:Decrypt', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Query', 'states:StartExecution']],
    ['RestoreTable', 'RestoreTableStateMachine', ['s3:GetObject', 'kms:Decrypt', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Query', 'states:StartExecution']],
    // Validate also lists the bucket: sizing a physical drill HEADs WAL objects, and a missing one must read as 404, not 403.
    ['Validate', 'ValidateStateMachine', ['s3:GetObject', 's3:ListBucket', 'kms:Decrypt', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Query', 'states:StartExecution']],
  ])('gives the %s function the state machine ARN and only its actions', (fn, machine, actions) => {
    const props = R[`${fn}LambdaFunction`].Properties;
    expect(props.Environment.Variables.STRONGBOX_STATE_MACHINE_ARN).toEqual({ Ref: machine });
    const statements = statementsOf(R[props.Role['Fn::GetAtt'][0]]).filter((s) => !list<string>(s.Action).some((a) => a.startsWith('logs:')));
    expect(statements.flatMap((s) => list<string>(s.Action))).toEqual(actions);
    expect(statements.find((s) => list(s.Action).includes('states:StartExecution')).Resource).toEqual({ Ref: machine });
    expect(statements.flatMap((s) => list(s.Resource))).not.toContain('*');
  });
});
