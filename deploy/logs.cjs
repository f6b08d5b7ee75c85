// Variable resolver for serverless.yml: the log group serverless makes for every function
// (`/aws/lambda/<service>-<stage>-<function>`, retained `logRetentionDays`), encrypted with
// the stack's key (BackupKey, whose policy lets CloudWatch Logs use it for the stack's log
// groups only), so that a function added later is covered too.
//
// Used as a `resources` entry: `${file(./deploy/logs.cjs):functionLogGroupKeys}`.
'use strict';

/** The logical id serverless gives a function's log group (lib/plugins/aws/lib/naming.js). */
function logGroupLogicalId(functionKey) {
  const normalized = functionKey.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${normalized[0].toUpperCase()}${normalized.slice(1)}LogGroup`;
}

/** `{ extensions }` setting KmsKeyId on the log group of each function key of `names`. */
function logGroupKeys(names) {
  const extensions = {};
  for (const name of names) extensions[logGroupLogicalId(name)] = { Properties: { KmsKeyId: { 'Fn::GetAtt': ['BackupKey', 'Arn'] } } };
  return { extensions };
}

/** serverless.yml resolver: the key of every function's log group. */
async function functionLogGroupKeys({ resolveVariable }) {
  return logGroupKeys(Object.keys((await resolveVariable('self:functions')) || {}));
}

module.exports = { functionLogGroupKeys, logGroupKeys, logGroupLogicalId };
