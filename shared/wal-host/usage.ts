/**
 * `--help` of the WAL program's commands (strongbox wal-push / wal-fetch): what each does,
 * its exit codes and an example, as the CLI's other commands show them.
 */
import { CONFIG_ENV } from './config';

/** The commands a person runs (or pastes into postgresql.conf), with their help text. */
export const WAL_COMMAND_HELP = {
  'wal-push':
    'Usage: strongbox wal-push <path> [--config FILE]\n\n' +
    "PostgreSQL's archive_command: stores the WAL file at <path> (%p) in Strongbox's archive.\n" +
    'Exit 0 only once it is stored and its SHA-256 verified (the same bytes again: 0); 1 otherwise,\n' +
    'and PostgreSQL retries. A segment stored with other bytes is never overwritten (1 and an alert).\n\n' +
    'Options:\n' +
    `  --config FILE  the WAL host config (wal.json; default: $${CONFIG_ENV})\n` +
    '  -h, --help     this text\n\n' +
    'Example:\n' +
    "  archive_command = 'strongbox wal-push %p --config /srv/strongbox/wal/app/wal.json'\n" +
    "  (npm start writes a faster wrapper per database: archive_command = '/abs/.strongbox/wal/app/wal-push %p'; see docs/wal.md)\n",
  'wal-fetch':
    'Usage: strongbox wal-fetch <name> <path> [--config FILE]\n\n' +
    "PostgreSQL's restore_command during a recovery: writes the archived file <name> (%f) to\n" +
    '<path> (%p), whole or not at all. Exit 0 when written; 1 only when the file is known not to\n' +
    'be archived (the end of the archive); 200 for any other trouble, which stops the recovery\n' +
    'instead of ending it early.\n\n' +
    'Options:\n' +
    `  --config FILE  the WAL host config (wal.json; default: $${CONFIG_ENV})\n` +
    '  -h, --help     this text\n\n' +
    'Example:\n' +
    "  restore_command = 'strongbox wal-fetch %f %p --config /srv/strongbox/wal/app/wal.json'\n" +
    "  (strongbox pitr writes it for you; npm start's wrapper: '/abs/.strongbox/wal/app/wal-fetch %f %p'; see docs/wal.md)\n",
} as const;

/** True when the arguments ask for help (`--help` or `-h` anywhere). */
export function asksForHelp(args: readonly string[]): boolean {
  return args.some((arg) => arg === '--help' || arg === '-h');
}

/** The help of `command`, or of both commands for anything else (the uploader and prefetcher are started by the scripts). */
export function walHelp(command: string | undefined): string {
  if (command === 'wal-push' || command === 'wal-fetch') return WAL_COMMAND_HELP[command];
  return `${WAL_COMMAND_HELP['wal-push']}\n${WAL_COMMAND_HELP['wal-fetch']}`;
}
