import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod/mini';
import { isDatabaseName } from '../domain/keys';
import { ConfigError } from '../errors';

/**
 * The host config of wal-push / wal-fetch (docs/wal.md): one JSON file per database,
 * written by `npm start` (or by hand on an AWS host). Unknown keys are ignored on purpose:
 * a config written by a newer Strongbox must never stop archiving.
 */

/** The environment variable naming the config when `--config` is not given. */
export const CONFIG_ENV = 'STRONGBOX_WAL_CONFIG';

const absolutePath = z.string().check(z.refine(isAbsolute, 'must be an absolute path (PostgreSQL runs the command from its data directory)'));

const databaseName = z.string().check(z.refine(isDatabaseName, 'use 1–63 letters, digits, "_", "." or "-"'));

const endpointUrl = z.string().check(
  z.refine((text) => {
    try {
      const url = new URL(text);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without query, e.g. http://127.0.0.1:7450'),
);

const authSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('token'), tokenFile: absolutePath }),
  z.object({ type: z.literal('iam'), region: z.string().check(z.regex(/^[a-z0-9-]{4,32}$/, 'must be an AWS region, e.g. eu-west-1')) }),
]);

/** An integer in [min, max] with a default. */
function int(min: number, max: number, fallback: number) {
  return z._default(z.int(`must be an integer from ${min} to ${max}`).check(z.minimum(min, `must be at least ${min}`), z.maximum(max, `must be at most ${max}`)), fallback);
}

/** A boolean with a default. */
function flag(fallback: boolean) {
  return z._default(z.boolean('must be true or false'), fallback);
}

/**
 * The schema (zod/mini: the full zod would add ~450 KB to a bundle that PostgreSQL starts
 * once per WAL file).
 */
export const hostConfigSchema = z.object({
  database: databaseName,
  endpoint: endpointUrl,
  auth: authSchema,
  spool: absolutePath,
  compression: z._default(z.enum(['none', 'gzip', 'zstd'], 'must be none, gzip or zstd'), 'zstd'),
  /** A request fails when its socket is idle this long (connect, headers or body). */
  timeoutMs: int(100, 600_000, 30_000),
  uploader: z.prefault(
    z.object({
      concurrency: int(1, 32, 4),
      /** The uploader exits after this long with nothing to push. */
      idleExitMs: int(100, 86_400_000, 30_000),
      scanIntervalMs: int(10, 10_000, 200),
      /** A marker whose `.ready` has been gone this long is removed. */
      markerTtlMs: int(100, 86_400_000, 60_000),
    }),
    {},
  ),
  /**
   * The fast paths, each of which can be switched off; with all off, archiving is the plain
   * path: PostgreSQL's archive_command runs Node's wal-push, which reads, compresses,
   * declares and sends the file and waits for the endpoint's answer (docs/wal.md).
   */
  fastPaths: z.prefault(
    z.object({
      /** The wal-push / wal-fetch scripts answer from the uploader's markers and the prefetched inbox without starting Node. */
      shell: flag(true),
      /** A background uploader pushes `.ready` files ahead (wal-push and the script start it for a backlog). */
      uploader: flag(true),
      /** Against a bytes-mode endpoint: one PUT with the declaration, no prepare (the uploader's pushes). */
      direct: flag(true),
      /** To an endpoint on this host (a loopback address) that compresses: the WAL file itself handed over (a hard link), not compressed and sent. */
      handoff: flag(true),
      /** With the zstd addon, the uploader reads, compresses and hashes on a worker thread, not its main thread. */
      worker: flag(true),
    }),
    {},
  ),
  fetch: z.prefault(
    z.object({
      /** Tries of a fetch before wal-fetch gives up with exit 200. */
      attempts: int(1, 100, 5),
      /** First pause between tries; it doubles up to maxDelayMs. */
      retryDelayMs: int(0, 600_000, 1_000),
      maxDelayMs: int(0, 600_000, 8_000),
      /** Segments the prefetcher keeps ahead of recovery; 0 disables it. */
      prefetch: int(0, 64, 8),
      prefetchConcurrency: int(1, 16, 4),
      /** The prefetcher exits after this long with nothing to fetch. */
      prefetchIdleMs: int(100, 86_400_000, 10_000),
    }),
    {},
  ),
});

/** A loaded host config; `path` is the absolute path it was read from (children get it). */
export type HostConfig = z.infer<typeof hostConfigSchema> & { path: string };

/** Where to look for the config: the `--config` flag, else the environment. */
export interface ConfigSource {
  flag?: string;
  env?: NodeJS.ProcessEnv;
  /** Relative paths are taken from here (wal-push runs in the data directory). */
  cwd?: string;
}

/**
 * Reads and validates the host config. Synchronous on purpose: it is the first thing
 * wal-push does and nothing else can happen meanwhile. Throws ConfigError when no path is
 * given, the file cannot be read, is not JSON, or does not match the schema (the message
 * names the first wrong field).
 */
export function loadHostConfig(source: ConfigSource = {}): HostConfig {
  const given = source.flag ?? (source.env ?? process.env)[CONFIG_ENV];
  if (!given) {
    throw new ConfigError('no WAL host config given', `pass --config /path/to/wal.json or set ${CONFIG_ENV} (npm start writes <home>/wal/<database>/wal.json)`);
  }
  const path = resolve(source.cwd ?? process.cwd(), given);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `cannot read the WAL host config ${path} (${code ?? 'error'})`,
      code === 'EACCES' ? 'the postgres OS user must be able to read it: chmod 0644 (or chown postgres) the file and its folders' : 'check the path in archive_command / restore_command; `npm start` writes it',
      { cause: error },
    );
  }
  return parseHostConfig(text, path);
}

/** Validates config text read from `path`. Throws ConfigError like loadHostConfig. */
export function parseHostConfig(text: string, path: string): HostConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`the WAL host config ${path} is not JSON`, 'rewrite it (npm start writes it) or fix the syntax', { cause: error });
  }
  const parsed = hostConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new ConfigError(
      `the WAL host config ${path} is invalid: ${field}: ${issue?.message ?? 'invalid'}`,
      'see docs/wal.md for the fields: database, endpoint, auth {type token, tokenFile | type iam, region}, spool, compression',
    );
  }
  return { ...parsed.data, path };
}
