import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

// Packaging the stack offline (`sls package`) and reading the CloudFormation it writes.
const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, '../..');
const SLS = path.join(ROOT, 'node_modules/osls/bin/serverless.js');

export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- CloudFormation is untyped JSON

const LOCK = path.join(ROOT, '.esbuild', 'sls-package.lock');
const STALE_LOCK_MS = 5 * 60_000;

/**
 * Runs `act` while holding a lock folder: `sls package` empties and rewrites `.serverless/`
 * in the service folder whatever `--package` says, so two runs at once break each other
 * (test files run in parallel). A lock older than five minutes is a crashed run's: taken over.
 */
async function withPackageLock<T>(act: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      await mkdir(LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const since = await stat(LOCK).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (since > STALE_LOCK_MS) await rm(LOCK, { recursive: true, force: true });
      else await sleep(250);
    }
  }
  try {
    return await act();
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

/** The environment of an offline `sls package`: fake credentials, no telemetry, private work folders. */
function packageEnv(workFolder: string, scratch: string, env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { ...process.env, SLS_TELEMETRY_DISABLED: '1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_SESSION_TOKEN: '', AWS_PROFILE: '', STRONGBOX_ESBUILD_WORK_FOLDER: workFolder, TMPDIR: scratch, ...env };
}

/**
 * Runs `sls package <args>` offline, one run at a time (the same lock as packageTemplate), with
 * `env` over the usual environment (a value `undefined` removes the variable), and returns how
 * it ended instead of throwing: for the runs that must fail, and what they print.
 */
export async function runPackage(args: string[], env: Record<string, string | undefined> = {}): Promise<{ ok: boolean; output: string }> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'strongbox-package-tmp-'));
  const workFolder = `.esbuild/test-${process.pid}-${path.basename(scratch)}`;
  const environment = packageEnv(workFolder, scratch, env);
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete environment[name];
  try {
    return await withPackageLock(() =>
      run(process.execPath, [SLS, 'package', ...args], { cwd: ROOT, timeout: 150_000, maxBuffer: 16 * 1024 * 1024, env: environment }).then(
        ({ stdout, stderr }) => ({ ok: true, output: `${stderr}${stdout}` }),
        (error: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${error.stderr ?? ''}${error.stdout ?? ''}` }),
      ),
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await rm(path.join(ROOT, workFolder), { recursive: true, force: true });
  }
}

/**
 * Runs `sls package` for stage `test` in eu-west-1 with `params`, in its own output and
 * esbuild work folders (so that parallel runs cannot collide), with fake credentials and no
 * network, one run at a time. Returns the template, the folder with the zips, and a cleanup.
 */
export async function packageTemplate(params: Record<string, string>): Promise<{ template: Json; outDir: string; cleanup: () => Promise<void> }> {
  const outDir = await mkdtemp(path.join(tmpdir(), 'strongbox-package-'));
  // serverless-esbuild leaves a copy of each function's files in TMPDIR after zipping it:
  // a private one, removed with the rest.
  const scratch = await mkdtemp(path.join(tmpdir(), 'strongbox-package-tmp-'));
  const workFolder = `.esbuild/test-${process.pid}-${path.basename(outDir)}`;
  const cleanup = async () => {
    await rm(outDir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
    await rm(path.join(ROOT, workFolder), { recursive: true, force: true });
  };
  try {
    await withPackageLock(() => run(
      process.execPath,
      [SLS, 'package', '--stage', 'test', '--region', 'eu-west-1', '--package', outDir, ...Object.entries(params).flatMap(([name, value]) => ['--param', `${name}=${value}`])],
      {
        cwd: ROOT,
        timeout: 150_000,
        maxBuffer: 16 * 1024 * 1024,
        env: packageEnv(workFolder, scratch),
      },
    ));
    const template = JSON.parse(await readFile(path.join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'));
    return { template, outDir, cleanup };
  } catch (error) {
    await cleanup();
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`sls package failed:\n${stderr ?? ''}\n${stdout ?? ''}`, { cause: error });
  }
}

export const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Evaluates a template condition whose operands are literals (stage parameters are substituted at package time). */
export function evaluateCondition(template: Json, node: Json): boolean {
  if (typeof node === 'object' && node && 'Condition' in node) return evaluateCondition(template, template.Conditions[node.Condition]);
  if (typeof node === 'string') return evaluateCondition(template, template.Conditions[node]);
  const [fn, args] = Object.entries(node)[0] as [string, Json[]];
  switch (fn) {
    case 'Fn::Not':
      return !evaluateCondition(template, args[0]);
    case 'Fn::And':
      return args.every((arg) => evaluateCondition(template, arg));
    case 'Fn::Or':
      return args.some((arg) => evaluateCondition(template, arg));
    case 'Fn::Equals': {
      if (args.some((arg) => typeof arg === 'object')) throw new Error(`condition operand not a literal: ${JSON.stringify(args)}`);
      return String(args[0]) === String(args[1]);
    }
    default:
      throw new Error(`unknown condition function ${fn}`);
  }
}

const NO_VALUE = Symbol('NoValue');

/**
 * `node` as CloudFormation would see it after choosing every `Fn::If` branch and dropping
 * `AWS::NoValue` (other intrinsics are kept as they are).
 */
export function resolveIfs(template: Json, node: Json): Json {
  const walk = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(walk).filter((item) => item !== NO_VALUE);
    if (!value || typeof value !== 'object') return value;
    if (value.Ref === 'AWS::NoValue') return NO_VALUE;
    if ('Fn::If' in value) {
      const [condition, yes, no] = value['Fn::If'];
      return walk(evaluateCondition(template, condition) ? yes : no);
    }
    return Object.fromEntries(
      Object.entries(value)
        .map(([key, item]) => [key, walk(item)])
        .filter(([, item]) => item !== NO_VALUE),
    );
  };
  const result = walk(node);
  return result === NO_VALUE ? undefined : result;
}

/** The resources CloudFormation would create: those without a Condition, or whose Condition is true. */
export function createdResources(template: Json): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(template.Resources as Record<string, Json>)
      .filter(([, resource]) => resource.Condition === undefined || evaluateCondition(template, resource.Condition))
      .map(([id, resource]) => [id, resolveIfs(template, resource)]),
  );
}
