import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * The state folder of local mode (STRONGBOX_HOME, default `.strongbox` in the project
 * folder, always absolute) and the `instance.json` a running `npm start` writes there so
 * that CLI commands share its catalog instead of opening the files a second time.
 */
export interface HomePaths {
  root: string;
  repository: string;
  catalog: string;
  cluster: string;
  logs: string;
  instance: string;
}

/** Resolves STRONGBOX_HOME against `cwd`. */
export function resolveHome(env: NodeJS.ProcessEnv, cwd: string): HomePaths {
  const configured = env.STRONGBOX_HOME;
  const root = configured ? (isAbsolute(configured) ? configured : resolve(cwd, configured)) : join(cwd, '.strongbox');
  return {
    root,
    repository: join(root, 'repository'),
    catalog: join(root, 'catalog'),
    cluster: join(root, 'postgres'),
    logs: join(root, 'logs'),
    instance: join(root, 'instance.json'),
  };
}

const instanceSchema = z.object({
  pid: z.number().int(),
  catalogEndpoint: z.url(),
  tableName: z.string(),
  startedAt: z.string(),
});

export type InstanceInfo = z.infer<typeof instanceSchema>;

/** The running instance recorded in the home, if its process is still alive. */
export function readLiveInstance(paths: HomePaths): InstanceInfo | undefined {
  let info: InstanceInfo;
  try {
    info = instanceSchema.parse(JSON.parse(readFileSync(paths.instance, 'utf8')));
  } catch {
    return undefined;
  }
  try {
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}

/** Records this process as the running instance (atomically). */
export function writeInstance(paths: HomePaths, info: InstanceInfo): void {
  mkdirSync(paths.root, { recursive: true });
  const temp = `${paths.instance}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, paths.instance);
}

/** Removes the instance record if it is this process's. */
export function clearInstance(paths: HomePaths): void {
  const info = readLiveInstance(paths);
  if (!info || info.pid === process.pid) rmSync(paths.instance, { force: true });
}
