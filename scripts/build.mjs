// Bundles the CLI, the ECS task programs and the benchmarks into dist/ (ESM, Node 20+).
// The Lambda functions are bundled separately by serverless-esbuild at `sls package` time.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entries = {
  cli: 'shared/cli/main.ts',
  'task-dump': 'tasks/dump.ts',
  'task-restore': 'tasks/restore.ts',
  'task-restore-table': 'tasks/restore-table.ts',
  'task-validate': 'tasks/validate.ts',
  'bench-backup': 'bench/backup.ts',
  'bench-wal': 'bench/wal.ts',
  'bench-base': 'bench/base.ts',
  'bench-drill': 'bench/drill.ts',
  'bench-retention': 'bench/retention.ts',
  'bench-restore': 'bench/restore.ts',
  'bench-chaos': 'bench/chaos/main.ts',
  'bench-scale': 'bench/scale.ts',
  'bench-catalog': 'bench/catalog.ts',
};
const entryPoints = Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(file)));

await build({
  entryPoints,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  packages: 'external',
  logLevel: 'warning',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});

// The WAL host program (wal-push / wal-fetch): one self-contained file the postgres OS user can run.
const { buildWal } = await import('./build-wal.mjs');
await buildWal();
