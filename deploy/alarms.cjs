// Variable resolver for serverless.yml: one CloudWatch alarm per function on its Lambda
// `Errors`, notifying the alerts topic, so that a function added later gets its alarm too.
//
// Used as a `resources` entry: `${file(./deploy/alarms.cjs):functionErrorAlarms}`.
'use strict';

/** `scheduleBackup` → `ScheduleBackup` (CloudFormation logical ids are alphanumeric). */
function logicalName(key) {
  return `${key[0].toUpperCase()}${key.slice(1)}`.replace(/[^A-Za-z0-9]/g, '');
}

/** The alarm resources for the function keys `names` of service `service` on stage `stage`. */
function errorAlarms(service, stage, names) {
  const resources = {};
  for (const name of names) {
    const functionName = `${service}-${stage}-${name}`;
    resources[`${logicalName(name)}ErrorsAlarm`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${functionName}-errors`,
        AlarmDescription: `SEV3 - function ${name} failed: see its log group /aws/lambda/${functionName}.`,
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: functionName }],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: 'AlertsTopic' }],
        OKActions: [{ Ref: 'AlertsTopic' }],
      },
    };
  }
  return { Resources: resources };
}

/** serverless.yml resolver: `{ Resources }` with an errors alarm for every function of the service. */
async function functionErrorAlarms({ resolveVariable }) {
  const [service, stage, functions] = await Promise.all([resolveVariable('self:service'), resolveVariable('sls:stage'), resolveVariable('self:functions')]);
  return errorAlarms(service, stage, Object.keys(functions || {}));
}

module.exports = { functionErrorAlarms, errorAlarms };
