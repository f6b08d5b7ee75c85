#!/usr/bin/env node
// The `strongbox` command: runs the bundled CLI (built by `npm ci` / `npm run build`).
// `wal-push` / `wal-fetch` go straight to the self-contained WAL program, which keeps
// PostgreSQL's exit-code contract (push: 0 or 1; fetch: 0, 1 = not archived, 200 = stop recovery).
const command = process.argv[2];
const wal = command === 'wal-push' || command === 'wal-fetch';
import(wal ? '../dist/wal.js' : '../dist/cli.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write(`strongbox: ${wal ? 'dist/wal.js' : 'dist/cli.js'} is missing.\nHINT: run \`npm run build\` (npm ci does it for you).\n`);
    // A missing program is not "segment not found": recovery must stop, not promote.
    process.exit(command === 'wal-fetch' ? 200 : 1);
  }
  throw error;
});
