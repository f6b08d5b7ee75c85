// Variable resolver for deploy/storage.yml: the optional protections' stage parameters,
// checked when the stack is packaged so that a typo stops `sls package` with a message
// instead of failing half-way through a deploy.
//
// Used as `${file(./deploy/protection.cjs):objectLockMode}`, `…:objectLockDays`,
// `…:replicaBucketArn` and `…:replicaKmsKeyArn`.
'use strict';

const MODES = ['', 'GOVERNANCE', 'COMPLIANCE'];
const BUCKET_ARN = /^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/mrk-[0-9a-f]{32}$/;

/** An Error naming the parameter and what it accepts. */
function paramError(name, value, expected) {
  return new Error(`Stage parameter ${name}=${JSON.stringify(value)} is invalid: ${expected}. HINT: fix --param ${name}=… (docs/deploy.md lists the parameters).`);
}

/**
 * The checked values of the protection parameters: `{ objectLockMode, objectLockDays,
 * replicaBucketArn, replicaKmsKeyArn }`. Throws naming the parameter when the mode is not
 * GOVERNANCE or COMPLIANCE (or empty), the days not 1-36500, the DR bucket not an S3 bucket
 * ARN, or the replica key not a multi-Region key ARN (`mrk-`) — required with the bucket.
 */
function checkProtection(params) {
  const mode = String(params.objectLockMode ?? '').trim();
  if (!MODES.includes(mode)) throw paramError('objectLockMode', mode, 'empty (off), GOVERNANCE or COMPLIANCE, in capitals');
  const days = Number(params.objectLockDays);
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw paramError('objectLockDays', params.objectLockDays, 'a whole number of days from 1 to 36500');
  const bucket = String(params.replicaBucketArn ?? '').trim();
  const key = String(params.replicaKmsKeyArn ?? '').trim();
  if (bucket && !BUCKET_ARN.test(bucket)) throw paramError('replicaBucketArn', bucket, 'the ARN of the DR bucket, arn:aws:s3:::<name>');
  if (bucket && !KEY_ARN.test(key)) throw paramError('replicaKmsKeyArn', key, 'with replicaBucketArn, the ARN of BackupKey\'s replica in the DR region (arn:aws:kms:<region>:<account>:key/mrk-…)');
  if (!bucket && key) throw paramError('replicaKmsKeyArn', key, 'only meaningful with replicaBucketArn');
  return { objectLockMode: mode, objectLockDays: days, replicaBucketArn: bucket, replicaKmsKeyArn: key };
}

async function read(resolveVariable) {
  const names = ['objectLockMode', 'objectLockDays', 'replicaBucketArn', 'replicaKmsKeyArn'];
  const values = await Promise.all(names.map((name) => resolveVariable(`param:${name}`)));
  return checkProtection(Object.fromEntries(names.map((name, i) => [name, values[i]])));
}

module.exports = {
  checkProtection,
  objectLockMode: async ({ resolveVariable }) => (await read(resolveVariable)).objectLockMode,
  objectLockDays: async ({ resolveVariable }) => (await read(resolveVariable)).objectLockDays,
  replicaBucketArn: async ({ resolveVariable }) => (await read(resolveVariable)).replicaBucketArn,
  replicaKmsKeyArn: async ({ resolveVariable }) => (await read(resolveVariable)).replicaKmsKeyArn,
};
