// Runs the vitest suite and ends with one plain summary line ("tests: N passed, N failed,
// N skipped") that CI reads; the exit code is vitest's.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const report = '.vitest-report.json';
rmSync(report, { force: true });
const result = spawnSync(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
let code = result.status ?? 1;
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
  console.log(`tests: ${json.numPassedTests} passed, ${json.numFailedTests} failed, ${skipped} skipped`);
  if (json.numTotalTests === 0) code = 1;
} catch {
  console.log('tests: 0 passed, 1 failed');
  code = code || 1;
}
process.exit(code);
