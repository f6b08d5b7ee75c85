/**
 * Every command's `--help` (issue 13, item 10): exit 0 and an example, for each command
 * registered on the program — walked from buildProgram, so a new command is covered without
 * being listed here — and for the archiver commands bin/strongbox.js hands to the WAL program.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../shared/cli/program';
import { WAL_COMMAND_HELP } from '../../shared/wal-host/usage';

const BIN = resolve('bin/strongbox.js');

/** Every command path of the program, parents included: [['backup'], ['catalog'], ['catalog', 'rebuild'], …]. */
function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands.flatMap((sub) => [[...prefix, sub.name()], ...commandPaths(sub, [...prefix, sub.name()])]);
}

function runBin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    // No config, no home, no database: help must need none of them.
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, NODE_OPTIONS: '--no-warnings' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const registered = commandPaths(buildProgram());
const all = [[], ...registered, ...Object.keys(WAL_COMMAND_HELP).map((name) => [name])];

describe('--help of every command', () => {
  it('walks the registered commands (the list is not empty, and has the subcommands)', () => {
    expect(registered.map((path) => path.join(' '))).toEqual(expect.arrayContaining(['backup', 'restore', 'catalog rebuild', 'retention apply', 'pitr']));
  });

  it.each(all.map((path) => [path.join(' ') || '(the program)', path] as const))('%s --help: exit 0, an example, nothing on stderr', async (_name, path) => {
    const result = await runBin([...path, '--help']);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/\nExamples?:\n {2}\S/);
    expect(result.stderr).toBe('');
  });

  it('-h works for the archiver commands too, with their exit codes in the text', async () => {
    const push = await runBin(['wal-push', '-h']);
    const fetch = await runBin(['wal-fetch', '-h']);
    expect(push).toMatchObject({ code: 0, stdout: WAL_COMMAND_HELP['wal-push'] });
    expect(fetch).toMatchObject({ code: 0, stdout: WAL_COMMAND_HELP['wal-fetch'] });
    expect(fetch.stdout).toContain('200 for any other trouble');
  });
});
