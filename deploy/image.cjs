// Variable resolver for serverless.yml: the dump task's image, the ECR repository the task
// execution role may pull from, and the container's memory limit.
//
// With the stage parameter `imageUri` empty, the image is `<stack's DumpRepository>:latest`;
// otherwise it must be an ECR image URI, whose repository is then the only one the
// execution role can read. Used as `${file(./deploy/image.cjs):image}` and `…:repositoryArn`.
'use strict';

const ECR_URI = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\/([a-z0-9][a-z0-9._/-]*)(:[\w.-]+|@sha256:[0-9a-f]{64})$/;

/** The AWS partition of a region name. */
function partitionOf(region) {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * Parses an ECR image URI into `{ account, region, repository, arn }`. Throws an Error with a
 * hint when the URI is not `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`
 * (or `@sha256:<digest>`).
 */
function parseImageUri(uri) {
  const match = ECR_URI.exec(uri);
  if (!match) {
    throw new Error(
      `imageUri "${uri}" is not an ECR image URI. HINT: push the dump image to ECR (see docs/deploy.md) and ` +
        'deploy with --param imageUri=<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>, ' +
        "or leave it empty to use the stack's own repository with the tag 'latest'.",
    );
  }
  const [, account, region, , repository] = match;
  return { account, region, repository, arn: `arn:${partitionOf(region)}:ecr:${region}:${account}:repository/${repository}` };
}

/** serverless.yml resolver: the container image of the dump task definition. */
async function image({ resolveVariable }) {
  const uri = await resolveVariable('param:imageUri');
  if (!uri) return { 'Fn::Sub': '${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${DumpRepository}:latest' };
  parseImageUri(uri);
  return uri;
}

/** serverless.yml resolver: the ARN of the repository holding the image, for the ECR pull actions. */
async function repositoryArn({ resolveVariable }) {
  const uri = await resolveVariable('param:imageUri');
  if (!uri) return { 'Fn::GetAtt': ['DumpRepository', 'Arn'] };
  return parseImageUri(uri).arn;
}

/**
 * serverless.yml resolver: the container's hard memory limit in MiB, as a number (a stage
 * parameter arrives as a string; the limit is the whole task's memory, `taskMemory`).
 */
async function containerMemory({ resolveVariable }) {
  const value = await resolveVariable('param:taskMemory');
  const mib = Number(value);
  if (!Number.isInteger(mib) || mib < 512) {
    throw new Error(`Stage parameter taskMemory=${JSON.stringify(value)} is invalid: Fargate memory in MiB, a whole number from 512. HINT: fix --param taskMemory=… (docs/deploy.md lists the parameters).`);
  }
  return mib;
}

module.exports = { image, repositoryArn, parseImageUri, containerMemory };
