/**
 * 200 databases in one stack (issue 16 point 4): `sls package` of a generated 200-database
 * config, and the template checked against the limits AWS enforces at deploy time —
 * CloudFormation's 500 resources and 1 MB template (uploaded to S3), Lambda's 4 KB
 * environment, IAM's 10,240 characters of inline policy per role, EventBridge's 300 rules
 * per bus — and the dispatcher's and the dead man's bundles holding every database.
 * Before the dispatcher the same config gave 1,522 resources, a 25 KB environment and 19 KB
 * role policies.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createdResources, packageTemplate, type Json } from './template';

const DATABASES = 200;
const LIMITS = { resources: 500, templateBytes: 1_048_576, environmentBytes: 4_096, rolePolicyChars: 10_240, rulesPerBus: 300, outputs: 200 };
/** What an intrinsic (Ref, GetAtt, Sub…) becomes once resolved: an ARN, generously long. */
const RESOLVED_BYTES = 160;

let dir: string;
let template: Json;
let outDir: string;
let cleanup: (() => Promise<void>) | undefined;

/** `customer_db_000`…: schedules, compression and secrets as a fleet would have them. */
function fleet(): unknown {
  return {
    databases: Array.from({ length: DATABASES }, (_, i) => {
      const name = `customer_db_${String(i).padStart(3, '0')}`;
      return {
        name,
        secretArn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/prod/${name}-AbCdEf`,
        schedule: `cron(${i % 60} ${i % 6} * * ? *)`,
        ...(i % 2 ? { compression: 'zstd' } : {}),
      };
    }),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'strongbox-scale-'));
  const configFile = path.join(dir, 'strongbox.config.json');
  await writeFile(configFile, JSON.stringify(fleet()));
  const packaged = await packageTemplate({ configFile, archiverRoleArn: 'arn:aws:iam::123456789012:role/strongbox-db-host', subnets: 'subnet-0a1b2c3d', securityGroups: 'sg-0123abcd' });
  ({ template, outDir, cleanup } = packaged);
}, 300_000);

afterAll(async () => {
  await cleanup?.();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Bytes of a value once CloudFormation resolved it (intrinsics counted as RESOLVED_BYTES). */
function resolvedBytes(value: Json): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 1 && /^(Ref|Fn::)/.test(Object.keys(value)[0]!)) return RESOLVED_BYTES;
  if (Array.isArray(value)) return 2 + value.reduce((sum: number, item: Json) => sum + resolvedBytes(item) + 1, 0);
  if (value && typeof value === 'object') return 2 + Object.entries(value).reduce((sum, [key, item]) => sum + Buffer.byteLength(key) + 3 + resolvedBytes(item) + 1, 0);
  return String(value).length;
}

/** The entries of a zip (central directory; stored or deflated). */
function unzip(zip: Buffer): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = zip.readUInt32LE(end + 16);
  for (let i = 0; i < zip.readUInt16LE(end + 10); i++) {
    const [method, size] = [zip.readUInt16LE(at + 10), zip.readUInt32LE(at + 20)];
    const [nameLength, extraLength, commentLength] = [zip.readUInt16LE(at + 28), zip.readUInt16LE(at + 30), zip.readUInt16LE(at + 32)];
    const local = zip.readUInt32LE(at + 42);
    const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    entries.set(zip.toString('utf8', at + 46, at + 46 + nameLength), method === 0 ? zip.subarray(data, data + size) : inflateRawSync(zip.subarray(data, data + size)));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

describe(`sls package with ${DATABASES} databases`, () => {
  it('stays under CloudFormation\'s 500 resources and 1 MB template, and EventBridge\'s 300 rules', () => {
    const resources = Object.values(template.Resources as Record<string, Json>);
    const rules = resources.filter((resource) => resource.Type === 'AWS::Events::Rule');
    expect(resources.length).toBeLessThan(LIMITS.resources);
    // Nothing grows with the databases: the count is the 2-database fixture's, give or take.
    expect(resources.length).toBeLessThan(200);
    expect(Buffer.byteLength(JSON.stringify(template))).toBeLessThan(LIMITS.templateBytes);
    expect(rules.length).toBeLessThan(LIMITS.rulesPerBus);
    expect(rules.length).toBeLessThan(10);
    expect(Object.keys(template.Outputs ?? {}).length).toBeLessThan(LIMITS.outputs);
  });

  it('gives every function an environment under Lambda\'s 4 KB', () => {
    const functions = Object.entries(createdResources(template)).filter(([, resource]) => resource.Type === 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(10);
    const sizes = Object.fromEntries(functions.map(([id, fn]) => [id, Object.entries(fn.Properties.Environment?.Variables ?? {}).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + resolvedBytes(value), 0)]));
    for (const [id, bytes] of Object.entries(sizes)) expect({ id, bytes, over: bytes >= LIMITS.environmentBytes }).toEqual({ id, bytes, over: false });
    // One role archives every database: the map does not list them.
    expect(template.Resources.ArchiveEndpointLambdaFunction.Properties.Environment.Variables.STRONGBOX_ARCHIVERS).toBe('strongbox-db-host=*');
  });

  it('keeps every role\'s inline policies under IAM\'s 10,240 characters, the secrets granted by folder', () => {
    const roles = Object.entries(createdResources(template)).filter(([, resource]) => resource.Type === 'AWS::IAM::Role');
    const sizes = roles.map(([id, role]) => ({ id, chars: (role.Properties.Policies ?? []).reduce((sum: number, policy: Json) => sum + resolvedBytes(policy.PolicyDocument), 0) }));
    for (const size of sizes) expect({ ...size, over: size.chars >= LIMITS.rolePolicyChars }).toEqual({ ...size, over: false });
    const secrets = JSON.stringify(template.Resources.DumpTaskRole.Properties.Policies);
    expect(secrets).toContain('arn:aws:secretsmanager:eu-west-1:123456789012:secret:strongbox/prod/*');
    expect(secrets).not.toContain('customer_db_');
  });

  it('compiles all 200 databases into the dispatcher and the dead man\'s switch', async () => {
    for (const fn of ['dispatch', 'deadman']) {
      const bundle = [...unzip(await readFile(path.join(outDir, `${fn}.zip`))).entries()].find(([name]) => name.endsWith('.mjs'))![1].toString('utf8');
      expect(bundle).toContain('"name":"customer_db_000"');
      expect(bundle).toContain('"name":"customer_db_199"');
    }
  });
});
