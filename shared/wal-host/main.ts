/**
 * The WAL host program (dist/wal.js), run by PostgreSQL as archive_command /
 * restore_command and by itself as the background uploader / prefetcher:
 *
 *   node wal.js wal-push <path> [--config F]
 *   node wal.js wal-fetch <name> <path> [--config F]
 *   node wal.js uploader --config F --wal-dir D
 *   node wal.js prefetcher --config F [--from SEGMENT]   (--from: a warm start, before recovery asks)
 *   node wal.js <command> --help      (exit 0)
 *
 * Start-up time is the point: no CLI framework, and the AWS libraries load only when a
 * request is signed. Exit codes are PostgreSQL's contract: wal-push 0 or 1 (never a
 * signal, never above 125, or the archiver dies); wal-fetch 0, 1 only for "not archived",
 * 200 for every other failure (stops recovery instead of ending it early).
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { StrongboxError } from '../errors';
import { loadHostConfig } from './config';
import { tempFiles } from './fetch-file';
import { logError, logLine, processUsage } from './log';
import { runPrefetcher } from './prefetcher';
import { ownedByMe, pidPath, type BackgroundRole } from './spool-protocol';
import { runUploader } from './uploader';
import { asksForHelp, walHelp } from './usage';
import { walFetch } from './wal-fetch';
import { walPush } from './wal-push';

const FETCH_FAILED = 200;
let failureCode = 1;
let heldLock: string | undefined;

function finish(code: number): never {
  for (const temp of tempFiles) {
    try {
      unlinkSync(temp);
    } catch {
      // Already renamed or never created.
    }
  }
  if (heldLock) {
    try {
      if (ownedByMe(readFileSync(heldLock, 'utf8'))) unlinkSync(heldLock);
    } catch {
      // Not ours any more.
    }
  }
  process.exit(code);
}

process.on('uncaughtException', (error) => {
  logError(error, { step: 'uncaught' });
  finish(failureCode);
});
process.on('unhandledRejection', (error) => {
  logError(error, { step: 'unhandled rejection' });
  finish(failureCode);
});
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => {
    logLine('error', `stopped by ${signal}`, { code: 'INTERRUPTED', ...processUsage() });
    finish(failureCode);
  });
}

/** Flags (`--name value` or `--name=value`) and positional arguments. */
type Flags = Partial<Record<'config' | 'wal-dir' | 'from', string>>;
function parseArgs(args: string[]): { positional: string[]; flags: Flags } {
  const options = { config: { type: 'string' }, 'wal-dir': { type: 'string' }, from: { type: 'string' } } as const;
  const { values, positionals } = process.getBuiltinModule('node:util').parseArgs({ args, options, allowPositionals: true, strict: false });
  return { positional: positionals, flags: Object.fromEntries(Object.entries(values).filter(([, value]) => typeof value === 'string')) };
}

function usage(message: string): StrongboxError {
  return new StrongboxError(
    'INPUT_INVALID',
    message,
    'usage: wal.js wal-push <path> [--config F] | wal-fetch <name> <path> [--config F] (archive_command / restore_command; --help shows an example; see docs/wal.md)',
  );
}

async function main(argv: string[]): Promise<number> {
  // A person asking for help gets it, with exit 0: no config is read, nothing is archived.
  if (asksForHelp(argv)) {
    process.stdout.write(walHelp(argv[0]));
    return 0;
  }
  const [command, ...rest] = argv;
  const { positional, flags } = parseArgs(rest);
  const cwd = process.cwd();
  const config = () => loadHostConfig({ flag: flags.config, cwd });
  switch (command) {
    case 'wal-push': {
      if (positional.length !== 1) throw usage(`wal-push takes one path (%p), got ${positional.length}`);
      await walPush(positional[0]!, config(), cwd);
      return 0;
    }
    case 'wal-fetch': {
      failureCode = FETCH_FAILED;
      if (positional.length !== 2) throw usage(`wal-fetch takes a name and a path (%f %p), got ${positional.length} arguments`);
      const name = positional[0]!;
      const result = await walFetch(name, positional[1]!, config(), cwd);
      if (result !== 'not-found') return 0;
      // Recovery probes history files that never existed: that is not worth a log line.
      if (!name.endsWith('.history')) logLine('info', `${name} is not in the archive`, { segment: name, code: 'WAL_NOT_FOUND' });
      return 1;
    }
    case 'uploader':
    case 'prefetcher':
      return runBackground(command, flags);
    default:
      throw usage(`unknown command ${JSON.stringify(command ?? '')}`);
  }
}

async function runBackground(role: BackgroundRole, flags: Flags): Promise<number> {
  const config = loadHostConfig({ flag: flags.config });
  heldLock = pidPath(config.spool, role);
  if (role === 'prefetcher') {
    const from = flags.from;
    await runPrefetcher(config, from ? { from } : {});
    return 0;
  }
  const walDir = flags['wal-dir'];
  if (!walDir) throw usage('uploader needs --wal-dir');
  await runUploader(config, walDir);
  return 0;
}

const argv = process.argv.slice(2);
if (argv[0] === 'wal-fetch') failureCode = FETCH_FAILED;
main(argv).then(finish, (error: unknown) => {
  logError(error, { command: argv[0], segment: argv[1] });
  finish(failureCode);
});
