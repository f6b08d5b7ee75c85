import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { InputError } from '../errors';
import { loadHostConfig } from './config';
import { IDENTITY_SHELL } from './identity';
import { SHELL_OWNER_ALIVE, SPOOL } from './spool-protocol';

/**
 * The POSIX sh fast paths PostgreSQL runs as archive_command and restore_command. Node
 * costs ~100 ms to start; these answer the common cases (file already archived ahead by
 * the uploader, file already fetched ahead by the prefetcher) with a few builtins and one
 * `stat`/`cp`, and otherwise `exec` the Node program with the same arguments. They read
 * and write only the spool files spool-protocol.ts describes, through its names and its
 * `owner_alive` check (a note counts only while its very process runs).
 */

/** Where the scripts go and the absolute paths baked into them. */
export interface HostScriptsInput {
  /** Folder of the two scripts (created; PostgreSQL's OS user must be able to read it). */
  dir: string;
  /** The node binary. */
  nodePath: string;
  /** The wal bundle (dist/wal.js or a copy of it). */
  bundlePath: string;
  /** The host config; it must exist unless `spool` is given. */
  configPath: string;
  /** The spool; default: read from the config. */
  spool?: string;
  /** Which fast paths the scripts take; default: the config's `fastPaths` (all on when it cannot be read). */
  fastPaths?: ScriptFastPaths;
}

/** The fast paths the scripts themselves take (config.ts `fastPaths`). */
export interface ScriptFastPaths {
  shell: boolean;
  uploader: boolean;
}

/** The scripts written. */
export interface HostScripts {
  pushScript: string;
  fetchScript: string;
}

/**
 * Writes `<dir>/wal-push` and `<dir>/wal-fetch` (mode 0755, each through a temporary name
 * and a rename, so a running PostgreSQL never sees half a script). Throws InputError for a
 * relative path, ConfigError when the spool must come from a config that cannot be read,
 * and the fs error when the folder cannot be written.
 */
export async function writeHostScripts(input: HostScriptsInput): Promise<HostScripts> {
  for (const key of ['dir', 'nodePath', 'bundlePath', 'configPath'] as const) {
    if (!isAbsolute(input[key])) throw new InputError(`${key} ${input[key]} is not absolute`, 'PostgreSQL runs the scripts from its data directory: give absolute paths');
  }
  const config = input.spool === undefined ? loadHostConfig({ flag: input.configPath }) : readConfigQuietly(input.configPath);
  const spool = input.spool ?? config!.spool;
  if (!isAbsolute(spool)) throw new InputError(`spool ${spool} is not absolute`, 'give the spool as an absolute path');
  const paths = { ...input, spool, fastPaths: input.fastPaths ?? config?.fastPaths ?? { shell: true, uploader: true } };
  await mkdir(input.dir, { recursive: true });
  const pushScript = join(input.dir, 'wal-push');
  const fetchScript = join(input.dir, 'wal-fetch');
  await writeExecutable(pushScript, renderPushScript(paths));
  await writeExecutable(fetchScript, renderFetchScript(paths));
  return { pushScript, fetchScript };
}

async function writeExecutable(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode: 0o755 });
  await chmod(temp, 0o755);
  await rename(temp, path);
}

/** Quotes `text` for POSIX sh: single quotes keep everything literal; a quote inside is closed, escaped and reopened. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

type Paths = Required<Pick<HostScriptsInput, 'nodePath' | 'bundlePath' | 'configPath' | 'spool' | 'fastPaths'>>;

/** The config, or undefined when it cannot be read (the scripts then take every fast path). */
function readConfigQuietly(configPath: string): ReturnType<typeof loadHostConfig> | undefined {
  try {
    return loadHostConfig({ flag: configPath });
  } catch {
    return undefined;
  }
}

/** A script that only runs Node (the shell fast path switched off). */
function plainScript(paths: Paths, command: 'wal-push' | 'wal-fetch'): string {
  return `#!/bin/sh
# Strongbox ${command}: PostgreSQL's ${command === 'wal-push' ? 'archive_command' : 'restore_command'} (docs/wal.md). Written by Strongbox.
# The shell fast path is switched off (fastPaths.shell in the host config): Node decides.
exec ${shellQuote(paths.nodePath)} ${shellQuote(paths.bundlePath)} ${command} "$@" --config ${shellQuote(paths.configPath)}
`;
}

/** A WAL file name holds only these characters: anything else goes to Node, which refuses it. */
const NAME_GUARD = `''|*[!0-9A-Za-z.]*) ;;`;

/** How long the push script waits for an in-flight push of its file: steps of 50 ms (30 s). */
const WAIT_STEPS = 600;

/** How long the push script gives a live uploader to begin its file: steps of 50 ms (2 s). */
const START_STEPS = 40;

/** How long the fetch script waits for the prefetcher's download of its file: steps of 20 ms (30 s). */
const FETCH_WAIT_STEPS = 1500;

/** How long it waits for a live prefetcher to start the download of a segment: steps of 20 ms (1 s). */
const START_WAIT_STEPS = 50;

/** A segment's name (24 upper-case hex digits), as a sh `case` pattern. */
const SEGMENT_NAME = '[0-9A-F]'.repeat(24);

/** The text of the wal-push script. Pure. */
export function renderPushScript(paths: Paths): string {
  if (!paths.fastPaths.shell) return plainScript(paths, 'wal-push');
  return `#!/bin/sh
# Strongbox wal-push: PostgreSQL's archive_command (docs/wal.md). Written by Strongbox.
# Fast path: the uploader already archived this very file (its marker is a hard link to
# it, or holds its identity dev:ino:size:mtimeNs): succeed without starting Node.
spool=${shellQuote(paths.spool)}
${SHELL_OWNER_ALIVE}
p="$1"
f="\${p##*/}"
case "$f" in
  ${NAME_GUARD}
  *)
    o="$spool/${SPOOL.out}/$f"
    m="$o${SPOOL.ok}"
    # While a live uploader pushes this very file (its .pushing note holds its pid), wait
    # for its marker here rather than start Node (as wal-push itself would wait): up to
    # ${WAIT_STEPS} x 50 ms, then Node decides. A push that fails ends the note: Node then
    # tries and reports. A live uploader that has not begun this file yet (it pushes the
    # oldest first) gets ${START_STEPS} x 50 ms to begin. With none running and other files
    # waiting (a backlog), this script starts one itself, as Node would, instead of
    # starting Node for one file.
    n=0
    started=''
    while :; do
      # A hard link to this very file (same device and inode): checked by the shell itself.
      if [ "$p" -ef "$o${SPOOL.link}" ]; then
        exit 0
      fi
      if [ -f "$m" ]; then
        mark=''
        { read -r mark < "$m"; } 2>/dev/null
${indent(IDENTITY_SHELL, 8)}
        # The marker stays: the uploader removes it once PostgreSQL has marked the file done
        # (an rm here would cost a process per segment).
        if [ -n "$id" ] && [ "$id" = "$mark" ]; then
          exit 0
        fi
      fi
      if owner_alive "$o${SPOOL.pushing}"; then
        [ "$n" -lt ${WAIT_STEPS} ] || break
      else
        if owner_alive "$spool/${SPOOL.uploaderPid}"; then
          [ "$n" -lt ${START_STEPS} ] || break
        elif [ -z "$started" ] && [ "$n" = 0 ] && [ -d "$spool" ]; then${paths.fastPaths.uploader ? '' : '\n          break # the uploader is switched off (fastPaths.uploader): Node decides'}
          case "$p" in */*) d="\${p%/*}" ;; *) d=. ;; esac
          case "$d" in /*) ;; *) d="$PWD/$d" ;; esac
          backlog=''
          for r in "$d"/archive_status/*.ready; do
            if [ "$r" != "$d/archive_status/$f.ready" ] && [ -e "$r" ]; then backlog=1; break; fi
          done
          [ -n "$backlog" ] || break
          started=1
          own=''
          command -v setsid >/dev/null 2>&1 && own=setsid # its own session, where there is setsid
          $own ${shellQuote(paths.nodePath)} ${shellQuote(paths.bundlePath)} uploader --config ${shellQuote(paths.configPath)} --wal-dir "$d" </dev/null >>"$spool/uploader.log" 2>&1 &
        elif [ -n "$started" ] && [ "$n" -lt ${START_STEPS} ]; then
          : # the uploader started above is still starting
        else
          break
        fi
      fi
      n=$((n + 1))
      sleep 0.05
    done
    ;;
esac
exec ${shellQuote(paths.nodePath)} ${shellQuote(paths.bundlePath)} wal-push "$@" --config ${shellQuote(paths.configPath)}
`;
}

/** The text of the wal-fetch script. Pure. */
export function renderFetchScript(paths: Paths): string {
  if (!paths.fastPaths.shell) return plainScript(paths, 'wal-fetch');
  return `#!/bin/sh
# Strongbox wal-fetch: PostgreSQL's restore_command (docs/wal.md). Written by Strongbox.
# Fast path: the prefetcher already fetched, verified and decompressed this file into
# the spool: move it to a temporary name (a rename on one filesystem, a copy across two),
# rename that onto %p, and tell the prefetcher.
spool=${shellQuote(paths.spool)}
${SHELL_OWNER_ALIVE}
f="$1"
p="$2"
case "$f" in
  ${NAME_GUARD}
  *)
    s="$spool/${SPOOL.in}/$f"
    # While a live prefetcher writes this very file ($s.part), wait for it here rather
    # than start Node to fetch it a second time: up to ${FETCH_WAIT_STEPS} x 20 ms. A
    # segment it has not started yet (all its downloads busy) is the next in its queue, as
    # recovery asks for them in order: wait up to ${START_WAIT_STEPS} x 20 ms for it to start.
    # History files and the like are never prefetched: no wait for them.
    case "$f" in
      ${SEGMENT_NAME}) queued=${START_WAIT_STEPS} ;;
      *) queued=0 ;;
    esac
    n=0
    while [ ! -f "$s" ] && [ "$n" -lt ${FETCH_WAIT_STEPS} ]; do
      [ -f "$s${SPOOL.part}" ] || [ "$n" -lt "$queued" ] || break
      owner_alive "$spool/${SPOOL.prefetcherPid}" || break
      n=$((n + 1))
      sleep 0.02
    done
    if [ -n "$p" ] && [ -f "$s" ]; then
      if mv -f -- "$s" "$p.strongbox.tmp" 2>/dev/null && mv -f -- "$p.strongbox.tmp" "$p" 2>/dev/null; then
        { printf '%s\\n' "$f" > "$spool/${SPOOL.want}"; } 2>/dev/null
        exit 0
      fi
      rm -f -- "$p.strongbox.tmp"
    fi
    ;;
esac
exec ${shellQuote(paths.nodePath)} ${shellQuote(paths.bundlePath)} wal-fetch "$@" --config ${shellQuote(paths.configPath)}
`;
}

function indent(text: string, spaces: number): string {
  return text
    .split('\n')
    .map((line) => ' '.repeat(spaces) + line)
    .join('\n');
}
