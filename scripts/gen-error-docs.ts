/**
 * Writes the error tables of docs/ from the registry (shared/error-codes.ts): every code in
 * docs/errors.md, the archive endpoint's HTTP statuses in docs/wal.md. Each table sits
 * between BEGIN/END markers; the prose around it is the docs' own.
 *
 *   npx tsx scripts/gen-error-docs.ts          # rewrites the tables
 *   npx tsx scripts/gen-error-docs.ts --check  # exit 1 when a committed table is stale
 *
 * test/unit/error-codes.test.ts runs the check.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ERROR_CODES, type ErrorCodeSpec } from '../shared/error-codes';
import { StrongboxError } from '../shared/errors';

/** One generated table: the file it lives in, its marker name, its rendering. */
export interface GeneratedTable {
  file: string;
  name: string;
  render: () => string;
}

const entries = (): Array<[string, ErrorCodeSpec]> => Object.entries(ERROR_CODES);

/** A table cell: pipes escaped, on one line. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** Every code: what it means, the CLI's exit status, the endpoint's HTTP status, retried or not, its alert, its hint. */
export function renderCodeTable(): string {
  const rows = entries().map(([code, spec]) => {
    const http = spec.http === undefined ? '—' : String(spec.http);
    const alert = spec.alert === undefined ? '—' : `[\`${spec.alert}\`](alerts.md)`;
    const kept = spec.kept === undefined ? '' : ` (kept: ${spec.kept})`;
    return `| \`${code}\` | ${cell(spec.means + kept)} | ${spec.exit ?? 1} | ${http} | ${spec.retryable ? 'yes' : 'no'} | ${alert} | ${cell(spec.hint)} |`;
  });
  return ['| code | what happened | exit | HTTP | retryable | alert | what to do (default hint) |', '|---|---|---|---|---|---|---|', ...rows].join('\n');
}

/** The archive endpoint's statuses and their codes, by status (docs/wal.md, protocol v1). */
export function renderHttpTable(): string {
  const rows = entries()
    .filter((entry): entry is [string, ErrorCodeSpec & { http: number }] => entry[1].http !== undefined)
    .sort(([a, x], [b, y]) => x.http - y.http || a.localeCompare(b))
    .map(([code, spec]) => `| ${spec.http} | \`${code}\` | ${cell(spec.means)} |`);
  return ['| status | code | what happened |', '|---|---|---|', ...rows].join('\n');
}

/** The tables this script owns. */
export const TABLES: readonly GeneratedTable[] = [
  { file: 'docs/errors.md', name: 'error-codes', render: renderCodeTable },
  { file: 'docs/wal.md', name: 'http-statuses', render: renderHttpTable },
];

function markers(name: string): { begin: string; end: string } {
  return {
    begin: `<!-- BEGIN ${name}: generated from shared/error-codes.ts by \`npx tsx scripts/gen-error-docs.ts\`; edit the registry, not this table -->`,
    end: `<!-- END ${name} -->`,
  };
}

/**
 * `text` with the table between its markers replaced by `table`. Throws when the markers
 * are missing or out of order (a doc edited by hand lost them).
 */
export function replaceTable(text: string, name: string, table: string): string {
  const { begin, end } = markers(name);
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new StrongboxError('INPUT_INVALID', `the markers of table ${name} are missing or out of order`, `put "${begin}" and "${end}" where the table goes`);
  return `${text.slice(0, from + begin.length)}\n${table}\n${text.slice(to)}`;
}

/** Each file's text as committed and as generated. */
export function generate(root: string): Array<{ file: string; current: string; generated: string }> {
  const files = [...new Set(TABLES.map((t) => t.file))];
  return files.map((file) => {
    const current = readFileSync(join(root, file), 'utf8');
    const generated = TABLES.filter((t) => t.file === file).reduce((text, t) => replaceTable(text, t.name, t.render()), current);
    return { file, current, generated };
  });
}

function main(argv: string[]): number {
  const root = join(import.meta.dirname, '..');
  const stale = generate(root).filter((f) => f.current !== f.generated);
  if (argv.includes('--check')) {
    for (const f of stale) console.error(`${f.file}: its error table is stale; run npx tsx scripts/gen-error-docs.ts`);
    return stale.length ? 1 : 0;
  }
  for (const f of stale) writeFileSync(join(root, f.file), f.generated);
  console.log(stale.length ? `updated ${stale.map((f) => f.file).join(', ')}` : 'error tables up to date');
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main(process.argv.slice(2));
