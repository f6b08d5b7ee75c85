/**
 * psql / pg_dump `--table` patterns, turned into the anchored POSIX regexes PostgreSQL's
 * `processSQLNamePattern` builds, so that `strongbox backup --table` selects what
 * `pg_dump -t` would. Pure.
 */
import { InputError } from '../errors';
import type { TableRef } from '../ports/postgres';

/** A parsed `--table` pattern: anchored regexes to match with PostgreSQL's `~` operator. */
export interface TablePattern {
  /** `db.schema.table` form only: the database named, literally (pg_dump refuses another one). */
  database?: string;
  /** Regex for the schema; absent when the pattern is unqualified (then search_path visibility decides). */
  schema?: string;
  /** Regex for the table name. */
  name: string;
}

const PATTERN_HINT =
  'use pg_dump\'s rules: [schema.]table, * and ? as wildcards, double quotes keep case ' +
  '(e.g. \'"Sales".*\' or public.orders)';

/** Characters that mean something in a POSIX regex; outside the wildcards we always escape them. */
const REGEX_SPECIAL = new Set(['|', '*', '+', '?', '(', ')', '[', ']', '{', '}', '.', '^', '$', '\\']);

/**
 * Parses a pg_dump-style table pattern. Unquoted letters are lower-cased; double-quoted
 * parts keep their case and `""` inside quotes is one literal quote; unquoted `*` → `.*`
 * and `?` → `.`; an unquoted `.` separates database, schema and name. Unlike psql, every
 * other regex-special character is matched literally (pg_dump would pass unquoted ones
 * through as regex syntax); table names containing them are rare, and the literal reading
 * is the one a user expects.
 *
 * @throws InputError when the pattern is empty, has an empty part (`public.`), more than
 *   `database.schema.table` parts, or an unterminated double quote.
 */
export function parseTablePattern(p: string): TablePattern {
  if (p.trim() === '') throw new InputError('the table pattern is empty', PATTERN_HINT);
  const parts: string[] = [''];
  const literals: string[] = [''];
  let inQuotes = false;
  for (let i = 0; i < p.length; i++) {
    const ch = p[i] as string;
    const last = parts.length - 1;
    if (ch === '"') {
      if (inQuotes && p[i + 1] === '"') {
        parts[last] += '"';
        literals[last] += '"';
        i++;
      } else {
        inQuotes = !inQuotes;
      }
    } else if (!inQuotes && ch === '.') {
      parts.push('');
      literals.push('');
    } else if (!inQuotes && ch === '*') {
      parts[last] += '.*';
      literals[last] += ch;
    } else if (!inQuotes && ch === '?') {
      parts[last] += '.';
      literals[last] += ch;
    } else {
      // PostgreSQL lower-cases only ASCII letters of unquoted identifiers (pg_tolower).
      const folded = !inQuotes && ch >= 'A' && ch <= 'Z' ? ch.toLowerCase() : ch;
      parts[last] += REGEX_SPECIAL.has(folded) ? `\\${folded}` : folded;
      literals[last] += folded;
    }
  }
  if (inQuotes) throw new InputError(`the table pattern ${p} has an unterminated double quote`, PATTERN_HINT);
  if (parts.length > 3) throw new InputError(`the table pattern ${p} has too many dotted names`, PATTERN_HINT);
  if (parts.some((part) => part === '')) {
    throw new InputError(`the table pattern ${p} has an empty name part`, `${PATTERN_HINT}; write schema.* for every table of a schema`);
  }
  const anchor = (regex: string): string => `^(${regex})$`;
  if (parts.length === 1) return { name: anchor(parts[0] as string) };
  if (parts.length === 2) return { schema: anchor(parts[0] as string), name: anchor(parts[1] as string) };
  return { database: literals[0] as string, schema: anchor(parts[1] as string), name: anchor(parts[2] as string) };
}

/** Double-quotes an identifier for SQL, as PostgreSQL's quote_ident does (always quoting). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."name"`: the qualified, quoted name of a table, for SQL. */
export function quoteTable(t: TableRef): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

/**
 * A pattern that matches exactly `t` and nothing else, for `pg_dump -t`: passing the tables a
 * snapshot resolved (rather than the user's patterns) makes the dump hold exactly the tables
 * that were counted, partitions included (PostgreSQL 15's `-t parent` skips them).
 */
export function exactTablePattern(t: TableRef): string {
  return quoteTable(t);
}
