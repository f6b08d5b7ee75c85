// Variable resolver for serverless.yml: what the dead man's switch (functions/deadman.ts)
// expects of each database of the config file, as the JSON of its
// STRONGBOX_DEADMAN_SCHEDULES variable: the logical schedule (the database's own, or the
// default), the base backup's, WAL archiving (the 15-minute checkpoint runs for every
// database) and the monthly restore drill.
//
// Used as `${file(./deploy/deadman.cjs):schedules}`; reads the same config file as
// deploy/schedules.cjs (stage parameter `configFile`).
'use strict';

const defaults = require('./schedules.json');
const { readConfig, configFrom } = require('./schedules.cjs');

/** The schedules of a config (readConfig's result), in the shape of shared/domain/deadman.ts. */
function schedulesOf(config) {
  return config.databases.map(({ name, schedule }) => ({
    database: name,
    logical: schedule,
    base: defaults.baseBackup,
    walArchiving: true,
    validation: true,
  }));
}

/** The schedules of `configFile` (relative to the service folder), in the shape of shared/domain/deadman.ts. */
function deadmanSchedules(configFile) {
  return schedulesOf(readConfig(configFile));
}

/** serverless.yml resolver: STRONGBOX_DEADMAN_SCHEDULES, a JSON string. */
async function schedules({ resolveVariable }) {
  return JSON.stringify(schedulesOf(await configFrom(resolveVariable)));
}

module.exports = { schedules, deadmanSchedules };
