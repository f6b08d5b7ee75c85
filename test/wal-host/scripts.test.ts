import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileIdentity } from '../../shared/wal-host/identity';
import { shellQuote, writeHostScripts } from '../../shared/wal-host/scripts';
import { ownerAlive, ownerLine, SHELL_OWNER_ALIVE } from '../../shared/wal-host/spool-protocol';
import type { StrongboxError } from '../../shared/errors';
import { removeDir, run, seg, sleeping, start, tempDir } from './harness';

// Paths with a space, a quote and a `$` prove the quoting: the scripts must not split them.
let base: string;
let weird: string;
let spool: string;
let scripts: { pushScript: string; fetchScript: string };
let dataDir: string;
let calls: string;

beforeAll(async () => {
  base = await tempDir('sbx-walsh-');
  weird = join(base, `it's $HOME dir`);
  spool = join(weird, 'spool');
  dataDir = join(base, 'data');
  calls = join(base, 'calls.txt');
  await mkdir(join(spool, 'out'), { recursive: true });
  await mkdir(join(spool, 'in'), { recursive: true });
  await mkdir(join(dataDir, 'pg_wal'), { recursive: true });
  // A stand-in for node that records how it was exec'ed and exits 42; run as `uploader`, it
  // plays one: a hard-link marker for every .ready file of --wal-dir, then exit 0.
  const fakeNode = join(weird, 'fake node');
  const playUploader = `if [ "$2" = uploader ]; then for r in "$6"/archive_status/*.ready; do n="\${r##*/}"; n="\${n%.ready}"; ln -f "$6/$n" ${shellQuote(join(spool, 'out'))}/"$n.link"; done; exit 0; fi`;
  await writeFile(fakeNode, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > ${shellQuote(calls)}\n${playUploader}\nexit 42\n`, { mode: 0o755 });
  await writeFile(join(weird, 'wal.json'), JSON.stringify({ database: 'app', endpoint: 'http://127.0.0.1:1', auth: { type: 'token', tokenFile: '/t' }, spool }));
  scripts = await writeHostScripts({ dir: join(weird, 'bin'), nodePath: fakeNode, bundlePath: join(weird, 'wal.js'), configPath: join(weird, 'wal.json') });
});
afterAll(() => removeDir(base));

async function execed(): Promise<string[] | undefined> {
  const text = await readFile(calls, 'utf8').catch(() => undefined);
  await writeFile(calls, '').catch(() => undefined);
  return text ? text.trimEnd().split('\n') : undefined;
}

describe('writeHostScripts', () => {
  it('writes both scripts 0755 with the spool read from the config', async () => {
    expect(scripts.pushScript).toBe(join(weird, 'bin', 'wal-push'));
    expect((await stat(scripts.pushScript)).mode & 0o777).toBe(0o755);
    expect((await stat(scripts.fetchScript)).mode & 0o777).toBe(0o755);
    expect(await readFile(scripts.pushScript, 'utf8')).toContain(`spool=${shellQuote(spool)}`);
  });

  it('refuses relative paths with INPUT_INVALID', async () => {
    const error = (await writeHostScripts({ dir: 'bin', nodePath: '/n', bundlePath: '/b', configPath: '/c', spool: '/s' }).catch((e: unknown) => e)) as StrongboxError;
    expect(error.code).toBe('INPUT_INVALID');
  });
});

describe('wal-push script', () => {
  it('with a marker holding this file identity: exits 0, leaves the marker to the uploader, never starts node', async () => {
    // Prepare
    const name = seg(1);
    await writeFile(join(dataDir, 'pg_wal', name), 'segment bytes');
    await writeFile(join(spool, 'out', `${name}.ok`), `${await fileIdentity(join(dataDir, 'pg_wal', name))}\n`);
    await execed();

    // Act
    const result = await run(scripts.pushScript, [`pg_wal/${name}`], { cwd: dataDir });

    // Assess
    expect(result.code).toBe(0);
    await expect(access(join(spool, 'out', `${name}.ok`))).resolves.toBeUndefined();
    expect(await execed()).toBeUndefined();
  });

  it('with a hard-link marker of this very file: exits 0 without starting a process; a link to another file under the name: node', async () => {
    // Prepare
    const [same, other] = [seg(30), seg(31)];
    for (const name of [same, other]) await writeFile(join(dataDir, 'pg_wal', name), `bytes of ${name}`);
    await link(join(dataDir, 'pg_wal', same), join(spool, 'out', `${same}.link`));
    await writeFile(join(spool, 'out', `${other}.link`), `bytes of ${other}`); // same bytes, another inode
    await execed();

    // Act
    const marked = await run(scripts.pushScript, [`pg_wal/${same}`], { cwd: dataDir });
    const notMarked = await run(scripts.pushScript, [`pg_wal/${other}`], { cwd: dataDir });

    // Assess
    expect(marked.code).toBe(0);
    expect(marked.stderr).toBe('');
    expect(notMarked.code).toBe(42);
    expect((await execed())?.slice(1, 3)).toEqual(['wal-push', `pg_wal/${other}`]);
  });

  it('with a marker of another file under the same name: execs node with the arguments and the config', async () => {
    // Prepare: the marker was written for an earlier file (same size, another inode)
    const name = seg(2);
    const path = join(dataDir, 'pg_wal', name);
    await writeFile(path, 'old');
    const oldIdentity = await fileIdentity(path);
    await writeFile(`${path}.new`, 'new');
    await rename(`${path}.new`, path);
    await writeFile(join(spool, 'out', `${name}.ok`), `${oldIdentity}\n`);

    // Act
    const result = await run(scripts.pushScript, [`pg_wal/${name}`], { cwd: dataDir });

    // Assess: node ran (exit 42 passed through), the stale marker is left to node
    expect(result.code).toBe(42);
    expect(await execed()).toEqual([join(weird, 'wal.js'), 'wal-push', `pg_wal/${name}`, '--config', join(weird, 'wal.json')]);
  });

  it('while a live uploader pushes the file: waits for its marker, exits 0, never starts node', async () => {
    // Prepare: the push is in flight (a live pid in the note)
    const name = seg(4);
    const path = join(dataDir, 'pg_wal', name);
    await writeFile(path, 'segment bytes');
    await writeFile(join(spool, 'out', `${name}.pushing`), `${await ownerLine()}\n`);
    await execed();

    // Act: the script waits; then the push ends with a marker
    const script = start(scripts.pushScript, [`pg_wal/${name}`], { cwd: dataDir });
    await sleeping(script.pid);
    // Written whole then renamed, as the uploader does: the waiting script must never read half a marker.
    await writeFile(join(spool, 'out', `${name}.ok.tmp`), `${await fileIdentity(path)}\n`);
    await rename(join(spool, 'out', `${name}.ok.tmp`), join(spool, 'out', `${name}.ok`));
    await unlink(join(spool, 'out', `${name}.pushing`));
    const result = await script.result;

    // Assess
    expect(result.code).toBe(0);
    expect(await execed()).toBeUndefined();
  });

  it('with other files waiting and no uploader: starts the uploader itself (absolute pg_wal) and answers from its marker, never execing node for the file', async () => {
    // Prepare: a backlog of two segments (the stand-in "uploader" marks them)
    const [name, next] = [seg(20), seg(21)];
    const status = join(dataDir, 'pg_wal', 'archive_status');
    await mkdir(status, { recursive: true });
    for (const segment of [name, next]) {
      await writeFile(join(dataDir, 'pg_wal', segment), `bytes of ${segment}`);
      await writeFile(join(status, `${segment}.ready`), '');
    }
    await execed();

    // Act
    const result = await run(scripts.pushScript, [`pg_wal/${name}`], { cwd: dataDir });

    // Assess: the last program run is the uploader, never node for the file
    try {
      expect(await execed()).toEqual([join(weird, 'wal.js'), 'uploader', '--config', join(weird, 'wal.json'), '--wal-dir', join(dataDir, 'pg_wal')]);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      expect(await readFile(join(spool, 'uploader.log'), 'utf8').catch(() => 'no log')).toBe('');
    } finally {
      await Promise.all([name, next].map((segment) => unlink(join(status, `${segment}.ready`))));
    }
  });

  it('with a live uploader that does not begin the file: waits 2 s, then node decides', async () => {
    // Prepare: the pid file names a live process (this one), which never pushes the file
    const name = seg(22);
    await writeFile(join(dataDir, 'pg_wal', name), 'segment bytes');
    await writeFile(join(spool, 'uploader.pid'), `${await ownerLine()}\n`);
    await execed();

    // Act
    const result = await run(scripts.pushScript, [`pg_wal/${name}`], { cwd: dataDir }).finally(() => unlink(join(spool, 'uploader.pid')));

    // Assess
    expect(result.code).toBe(42);
    expect(result.ms).toBeGreaterThanOrEqual(1_900);
    expect((await execed())?.slice(1, 3)).toEqual(['wal-push', `pg_wal/${name}`]);
  });

  it('a push note of a dead uploader, or one that ends without a marker: node decides', async () => {
    const name = seg(9);
    await writeFile(join(dataDir, 'pg_wal', name), 'segment bytes');
    // 2^22 + 1 is above Linux's default pid_max: no such process.
    await writeFile(join(spool, 'out', `${name}.pushing`), `${4_194_305}\n`);
    const dead = await run(scripts.pushScript, [`pg_wal/${name}`], { cwd: dataDir });
    expect(dead.code).toBe(42);
    expect((await execed())?.[2]).toBe(`pg_wal/${name}`);

    // A live push that fails: its note goes away without a marker while the script waits.
    await writeFile(join(spool, 'out', `${name}.pushing`), `${await ownerLine()}\n`);
    const script = start(scripts.pushScript, [`pg_wal/${name}`], { cwd: dataDir });
    await sleeping(script.pid);
    await unlink(join(spool, 'out', `${name}.pushing`));
    const failed = await script.result;
    expect(failed.code).toBe(42);
  });

  it('never takes a reused pid for the uploader: a note counts only with its process\'s start time (shell and node)', async () => {
    // Prepare: notes naming this live process, with its start time, with another one (the
    // pid reused by someone else since the note was written), and a bare pid (an old note)
    const [ownerDir] = [join(base, 'owners')];
    await mkdir(ownerDir, { recursive: true });
    const mine = await ownerLine();
    const notes = { mine, reused: `${process.pid} ${BigInt(mine.split(' ')[1]!) + 1n}`, bare: `${process.pid}`, garbage: 'x y' };
    for (const [file, text] of Object.entries(notes)) await writeFile(join(ownerDir, file), `${text}\n`);

    // Act: the check the scripts run, and node's
    const shell = await run('sh', ['-c', `${SHELL_OWNER_ALIVE}\nfor f in mine reused bare garbage missing; do if owner_alive "$1/$f"; then echo "$f yes"; else echo "$f no"; fi; done`, 'sh', ownerDir]);
    const node = await Promise.all(Object.values(notes).map((text) => ownerAlive(text, 'uploader')));

    // Assess: only the very process counts; a bare pid goes to node, which checks the command line
    expect(shell.stdout.trim().split('\n')).toEqual(['mine yes', 'reused no', 'bare no', 'garbage no', 'missing no']);
    expect(node).toEqual([true, false, false, false]);
  });

  it('a push note whose pid was reused: node decides, the script does not wait on it', async () => {
    const name = seg(12);
    await writeFile(join(dataDir, 'pg_wal', name), 'segment bytes');
    const mine = await ownerLine();
    await writeFile(join(spool, 'out', `${name}.pushing`), `${process.pid} ${BigInt(mine.split(' ')[1]!) + 1n}\n`);
    const result = await run(scripts.pushScript, [`pg_wal/${name}`], { cwd: dataDir });
    expect(result.code).toBe(42);
    expect((await execed())?.[2]).toBe(`pg_wal/${name}`);
  });

  it('without a marker, and for a name with a path trick, execs node (quietly: PostgreSQL logs the stderr)', async () => {
    const plain = await run(scripts.pushScript, [`pg_wal/${seg(3)}`], { cwd: dataDir });
    expect(plain.code).toBe(42);
    expect(plain.stderr).toBe('');
    expect((await execed())?.[2]).toBe(`pg_wal/${seg(3)}`);
    expect((await run(scripts.pushScript, ['pg_wal/x;y'], { cwd: dataDir })).code).toBe(42);
  });
});

describe('wal-fetch script', () => {
  it('with the file prefetched: moves it onto %p, removes it from the spool, records the want, never starts node', async () => {
    // Prepare
    const name = seg(5);
    await writeFile(join(spool, 'in', name), 'prefetched bytes');
    await execed();

    // Act
    const result = await run(scripts.fetchScript, [name, 'pg_wal/RECOVERYXLOG'], { cwd: dataDir });

    // Assess
    expect(result.code).toBe(0);
    expect(await readFile(join(dataDir, 'pg_wal', 'RECOVERYXLOG'), 'utf8')).toBe('prefetched bytes');
    await expect(access(join(spool, 'in', name))).rejects.toThrow();
    await expect(access(join(dataDir, 'pg_wal', 'RECOVERYXLOG.strongbox.tmp'))).rejects.toThrow();
    expect((await readFile(join(spool, 'prefetch.want'), 'utf8')).trim()).toBe(name);
    expect(await execed()).toBeUndefined();
  });

  it('while a live prefetcher downloads the file: waits for it, moves it onto %p, never starts node', async () => {
    // Prepare: the download is in flight (`.part`, a live pid in prefetcher.pid)
    const name = seg(7);
    await writeFile(join(spool, 'in', `${name}.part`), 'half');
    await writeFile(join(spool, 'prefetcher.pid'), `${await ownerLine()}\n`);
    await execed();

    // Act: the script waits; then the file lands
    const script = start(scripts.fetchScript, [name, 'pg_wal/RECOVERYXLOG'], { cwd: dataDir });
    await sleeping(script.pid);
    await writeFile(join(spool, 'in', `${name}.part`), 'prefetched later');
    await rename(join(spool, 'in', `${name}.part`), join(spool, 'in', name));
    const result = await script.result;

    // Assess
    expect(result.code).toBe(0);
    expect(await readFile(join(dataDir, 'pg_wal', 'RECOVERYXLOG'), 'utf8')).toBe('prefetched later');
    expect(await execed()).toBeUndefined();
  });

  it('a segment a live prefetcher has not started yet: waits (up to 1 s) for it to start, never starts node; a history file: node at once', async () => {
    // Prepare: nothing in the spool yet
    const name = seg(10);
    await writeFile(join(spool, 'prefetcher.pid'), `${await ownerLine()}\n`);
    await execed();

    // Act: the script waits for the download to start; it starts, the script waits on it; it lands
    const script = start(scripts.fetchScript, [name, 'pg_wal/RECOVERYXLOG'], { cwd: dataDir });
    const first = await sleeping(script.pid);
    await writeFile(join(spool, 'in', `${name}.part`), 'queued bytes');
    await sleeping(script.pid, new Set([first]));
    await rename(join(spool, 'in', `${name}.part`), join(spool, 'in', name));
    const result = await script.result;
    const history = await run(scripts.fetchScript, ['00000002.history', 'pg_wal/RECOVERYHISTORY'], { cwd: dataDir });

    // Assess
    try {
      expect(result.code).toBe(0);
      expect(await readFile(join(dataDir, 'pg_wal', 'RECOVERYXLOG'), 'utf8')).toBe('queued bytes');
      expect(history.code).toBe(42);
      expect((await execed())?.[2]).toBe('00000002.history');
    } finally {
      await unlink(join(spool, 'prefetcher.pid'));
    }
  });

  it('a segment a live prefetcher never starts (the end of the archive): node after 1 s', async () => {
    await writeFile(join(spool, 'prefetcher.pid'), `${await ownerLine()}\n`);
    try {
      const result = await run(scripts.fetchScript, [seg(11), 'pg_wal/RECOVERYXLOG'], { cwd: dataDir });
      expect(result.code).toBe(42);
      expect(result.ms).toBeGreaterThanOrEqual(900);
      expect((await execed())?.[2]).toBe(seg(11));
    } finally {
      await unlink(join(spool, 'prefetcher.pid'));
    }
  });

  it('a download of a dead prefetcher, or one that ends without a file: node fetches', async () => {
    const name = seg(8);
    await writeFile(join(spool, 'in', `${name}.part`), 'half');
    await writeFile(join(spool, 'prefetcher.pid'), `${4_194_305}\n`);
    const dead = await run(scripts.fetchScript, [name, 'pg_wal/RECOVERYXLOG'], { cwd: dataDir });
    expect(dead.code).toBe(42);
    expect((await execed())?.[2]).toBe(name);

    await writeFile(join(spool, 'prefetcher.pid'), `${await ownerLine()}\n`);
    const script = start(scripts.fetchScript, [name, 'pg_wal/RECOVERYXLOG'], { cwd: dataDir });
    await sleeping(script.pid);
    await unlink(join(spool, 'in', `${name}.part`));
    const failed = await script.result;
    expect(failed.code).toBe(42);
    await unlink(join(spool, 'prefetcher.pid'));
  });

  it('without a prefetched file: execs node with %f %p and the config, quietly', async () => {
    await writeFile(join(spool, 'in', `${seg(6)}.part`), 'a stale part, no prefetcher');
    const result = await run(scripts.fetchScript, [seg(6), 'pg_wal/RECOVERYXLOG'], { cwd: dataDir });
    expect(result.code).toBe(42);
    expect(result.stderr).toBe('');
    expect(await execed()).toEqual([join(weird, 'wal.js'), 'wal-fetch', seg(6), 'pg_wal/RECOVERYXLOG', '--config', join(weird, 'wal.json')]);
  });

  it('never reads outside the spool for a name with a path trick', async () => {
    await writeFile(join(spool, 'secret'), 'x');
    const result = await run(scripts.fetchScript, ['../secret', 'pg_wal/RECOVERYXLOG2'], { cwd: dataDir });
    expect(result.code).toBe(42);
    await expect(access(join(dataDir, 'pg_wal', 'RECOVERYXLOG2'))).rejects.toThrow();
  });
});
