import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runPackage } from './template';

// `sls package` without a config file (or with a wrong one) stops with one message that says
// what to create and how to point at another file: no stack trace, no message per variable.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'strongbox-missing-config-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;
const count = (text: string, part: string) => text.split(part).length - 1;

/** What every "no config" message must say besides the path. */
function expectTheWayOut(output: string) {
  expect(output).toContain('--param configFile=<path> or STRONGBOX_CONFIG=<path>');
  expect(output).toContain('docs/deploy.md, "1. Describe the databases"');
  expect(output).not.toMatch(STACK_FRAME);
  expect(output).not.toContain('ENOENT');
  expect(count(output, 'No Strongbox config file at')).toBe(1);
}

describe('sls package without a config file', () => {
  // The default file of a production stage; a developer's own strongbox.config.json (local mode) would be read instead.
  it.skipIf(existsSync(path.join(ROOT, 'strongbox.config.json')))('--stage prod names strongbox.config.json, the example to copy and the two ways to point elsewhere', async () => {
    // Act
    const { ok, output } = await runPackage(['--stage', 'prod', '--region', 'eu-west-1', '--package', path.join(dir, 'prod')], { STRONGBOX_CONFIG: undefined });
    // Assess
    expect(ok).toBe(false);
    expect(output).toContain(`No Strongbox config file at ${path.join(ROOT, 'strongbox.config.json')}: it names the databases to back up`);
    expect(output).toContain('HINT: create it from the example: cp deploy/example.config.json strongbox.config.json,');
    expectTheWayOut(output);
  }, 160_000);

  it('names the file that --param configFile asked for, relative to the service folder', async () => {
    const { ok, output } = await runPackage(['--stage', 'prod', '--region', 'eu-west-1', '--package', path.join(dir, 'param'), '--param', 'configFile=config/strongbox.prod.json']);
    expect(ok).toBe(false);
    expect(output).toContain(`No Strongbox config file at ${path.join(ROOT, 'config/strongbox.prod.json')}:`);
    expect(output).toContain('cp deploy/example.config.json config/strongbox.prod.json,');
    expectTheWayOut(output);
  }, 160_000);

  it('names the file that STRONGBOX_CONFIG asked for, absolute outside the service folder', async () => {
    const file = path.join(dir, 'absent', 'strongbox.json');
    const { ok, output } = await runPackage(['--stage', 'prod', '--region', 'eu-west-1', '--package', path.join(dir, 'env')], { STRONGBOX_CONFIG: file });
    expect(ok).toBe(false);
    expect(output).toContain(`No Strongbox config file at ${file}:`);
    expect(output).toContain(`cp deploy/example.config.json ${file},`);
    expectTheWayOut(output);
  }, 160_000);
});

describe('sls package with a wrong config file', () => {
  it('prints the entry at fault once, without a stack trace', async () => {
    const file = path.join(dir, 'no-secret.json');
    await writeFile(file, JSON.stringify({ databases: [{ name: 'app', url: 'postgres://app@db/app' }] }));
    const { ok, output } = await runPackage(['--stage', 'prod', '--region', 'eu-west-1', '--package', path.join(dir, 'wrong'), '--param', `configFile=${file}`]);
    expect(ok).toBe(false);
    expect(count(output, `Strongbox config ${file}: databases[0] ("app") needs a "secretArn"`)).toBe(1);
    expect(output).not.toMatch(STACK_FRAME);
  }, 160_000);
});
