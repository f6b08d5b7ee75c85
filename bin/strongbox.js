#!/usr/bin/env node
// The `strongbox` command: runs the bundled CLI (built by `npm ci` / `npm run build`).
import('../dist/cli.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('strongbox: dist/cli.js is missing.\nHINT: run `npm run build` (npm ci does it for you).\n');
    process.exit(1);
  }
  throw error;
});
