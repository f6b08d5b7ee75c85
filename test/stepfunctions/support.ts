/**
 * Runs the state machines of deploy/stepfunctions.yml locally: `sls package` once (cached by
 * the content of the deployment files), the definitions taken from the packaged template with
 * their CloudFormation references replaced by fixed ARNs, and aws-local-stepfunctions with the
 * task states overridden by name. The ECS RunTask state runs the task program named by the
 * container override's command, with the override's environment; a non-zero exit fails the
 * state with States.TaskFailed, as Step Functions' .sync integration does.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import type { JobTaskIo } from '../../tasks/restore';
import { packageTemplate } from '../deploy/template';

// aws-local-stepfunctions calls Promise.withResolvers (Node 22); Node 20 lacks it.
const promiseStatics = Promise as unknown as { withResolvers?: () => unknown };
promiseStatics.withResolvers ??= () => {
  let resolve: unknown;
  let reject: unknown;
  const promise = new Promise((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
};

const ROOT = path.resolve(import.meta.dirname, '../..');
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- CloudFormation is untyped JSON

/** What the references of the definitions stand for in these tests. */
export const ARNS = {
  'EcsCluster.Arn': 'arn:aws:ecs:eu-west-1:123456789012:cluster/strongbox-test',
  DumpTaskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/strongbox-test-dump:1',
  AlertsTopic: 'arn:aws:sns:eu-west-1:123456789012:strongbox-test-alerts',
} as const;

let template: Promise<Json> | undefined;

async function inputsHash(): Promise<string> {
  const hash = createHash('sha256');
  const deploy = (await readdir(path.join(ROOT, 'deploy'))).sort().map((file) => path.join('deploy', file));
  for (const file of ['serverless.yml', 'test/fixtures/strongbox.config.json', ...deploy]) hash.update(file).update(await readFile(path.join(ROOT, file)));
  return hash.digest('hex').slice(0, 16);
}

/**
 * The CloudFormation template of `sls package --stage test` with the test fixture's config,
 * packaged once per content of serverless.yml and deploy/ (cached in the temp folder).
 */
export function packagedTemplate(): Promise<Json> {
  template ??= (async () => {
    const cached = path.join(tmpdir(), `strongbox-sfn-template-${await inputsHash()}.json`);
    const text = await readFile(cached, 'utf8').catch(() => undefined);
    if (text) return JSON.parse(text);
    // One `sls package` at a time (it rewrites .serverless/ whatever --package says): the deploy tests' lock.
    const packaged = await packageTemplate({ configFile: 'test/fixtures/strongbox.config.json' });
    try {
      await writeFile(`${cached}.${process.pid}`, JSON.stringify(packaged.template));
      await rename(`${cached}.${process.pid}`, cached);
      return packaged.template;
    } finally {
      await packaged.cleanup();
    }
  })();
  return template;
}

/**
 * aws-local-stepfunctions 3.0.0 removes every backslash from an intrinsic function's result
 * (BaseIntrinsicFunction.call), so `States.JsonToString($.job)` of a job holding a quote (a
 * table pattern like `"Sales".orders`) is no JSON locally, while AWS escapes it. The local runs
 * pass `$.job` itself and the RunTask override serializes it (JSON.stringify, as AWS does);
 * test/stepfunctions/package.test.ts asserts the deployed definition.
 */
const JOB_TO_STRING = '"Value.$": "States.JsonToString($.job)"';

/**
 * The ASL of the state machine `logicalId`, its Fn::Sub references replaced by ARNS; for a local
 * run (the default) with the job passed as said above.
 */
export function definitionOf(cfn: Json, logicalId: string, options: { localRun: boolean } = { localRun: true }): Json {
  const sub = cfn.Resources[logicalId].Properties.DefinitionString['Fn::Sub'];
  const [text, params] = Array.isArray(sub) ? sub : [sub, {}];
  if (!String(text).includes(JOB_TO_STRING)) throw new Error(`${logicalId} no longer passes the job with States.JsonToString($.job)`);
  return JSON.parse(
    (options.localRun ? String(text).replaceAll(JOB_TO_STRING, '"Value.$": "$.job"') : String(text)).replace(/\$\{([^}]+)\}/g, (_: string, name: string) => {
      const param = params[name];
      const key = param?.Ref ?? (param?.['Fn::GetAtt'] as string[] | undefined)?.join('.');
      const value = ARNS[key as keyof typeof ARNS];
      if (!value) throw new Error(`no test value for \${${name}} (${JSON.stringify(param)})`);
      return value;
    }),
  );
}

/** A task program's entry point, as the container's command names it. */
export type TaskProgram = (io: JobTaskIo) => Promise<number>;

/** One RunTask call as the state machine made it. */
export interface RunTaskCall {
  params: Json;
  env: Record<string, string>;
  exitCode: number;
}

/**
 * A RunTask (.sync) override: runs the program of `programs` named by the command override with
 * the override's environment (plus `baseEnv`, the task definition's), and answers as .sync does.
 * `before` may throw to simulate ECS refusing to start the task.
 */
export function ecsTask(programs: Record<string, TaskProgram>, baseEnv: Record<string, string>, calls: RunTaskCall[], before?: (attempt: number) => void) {
  return async (params: Json) => {
    before?.(calls.length + 1);
    const container = params.Overrides.ContainerOverrides[0];
    const program = programs[(container.Command as string[]).join(' ')];
    if (!program) throw Object.assign(new Error(`no program for ${JSON.stringify(container.Command)}`), { name: 'States.Runtime' });
    const environment = (container.Environment as Array<{ Name: string; Value: unknown }>).map((e) => ({ Name: e.Name, Value: typeof e.Value === 'string' ? e.Value : JSON.stringify(e.Value) }));
    container.Environment = environment;
    const env = Object.fromEntries(environment.map((e) => [e.Name, e.Value]));
    const exitCode = await program({ env: { ...baseEnv, ...env }, onStop: () => undefined });
    calls.push({ params, env, exitCode });
    const taskArn = `arn:aws:ecs:eu-west-1:123456789012:task/strongbox-test/${calls.length}`;
    if (exitCode !== 0) {
      const cause = JSON.stringify({ TaskArn: taskArn, StopCode: 'EssentialContainerExited', StoppedReason: 'Essential container in task exited', Containers: [{ Name: container.Name, ExitCode: exitCode }] });
      throw Object.assign(new Error(cause), { name: 'States.TaskFailed' });
    }
    return { TaskArn: taskArn, LastStatus: 'STOPPED', StopCode: 'EssentialContainerExited', Containers: [{ Name: container.Name, ExitCode: 0 }] };
  };
}

/** An ECS refusal to start a task, as .sync reports it (retried by the definitions). */
export function ecsRefusal(): Error {
  return Object.assign(new Error('Capacity is unavailable at this time'), { name: 'ECS.AmazonECSException' });
}

/** Runs `definition` with the overrides; resolves with the output, or the error of a failed execution. */
export async function execute(definition: Json, input: Json, handlers: Record<string, (input: Json) => Promise<Json>>, name: string): Promise<{ output?: Json; error?: Error }> {
  const machine = new StateMachine(definition);
  const execution = machine.run(input, {
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: Object.fromEntries(Object.keys(handlers).map((state) => [state, 0])) },
    context: { Execution: { Name: name, Input: input, StartTime: '2026-11-24T04:00:00.000Z' }, State: { EnteredTime: '2026-11-24T04:00:01.000Z', Name: 'state' } },
  });
  // Step Functions refuses a state's input or output over 256 KB (States.DataLimitExceeded):
  // every state of the local run is held to it.
  const oversized: string[] = [];
  const watched = (async () => {
    for await (const event of execution.eventLogs) {
      if (!('state' in event) || !event.state) continue;
      for (const [what, value] of [['input', event.state.input], ['output', event.state.output]] as const) {
        const bytes = value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
        if (bytes > STATE_DATA_LIMIT) oversized.push(`${event.state.name} ${what}: ${bytes} bytes`);
      }
    }
  })();
  let result: { output?: Json; error?: Error };
  try {
    result = { output: await execution.result };
  } catch (error) {
    result = { error: error as Error };
  }
  await watched;
  if (oversized.length) return { error: Object.assign(new Error(`over Step Functions' 256 KB: ${oversized.join('; ')}`), { name: 'States.DataLimitExceeded' }) };
  return result;
}

/** Step Functions' limit on a state's input and output, and an execution's input (256 KB). */
export const STATE_DATA_LIMIT = 256 * 1024;
