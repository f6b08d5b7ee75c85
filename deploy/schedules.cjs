// Variable resolver for serverless.yml: turns the Strongbox config file (the same
// `strongbox.config.json` local mode reads, see shared/config.ts) into the config packaged
// into the dispatcher and the dead man's switch (their databases and schedules: compiled
// into the bundle, not an environment variable), the secrets the dump task and the WAL
// checkpoint may read, the watchdog's settings, and the retention function's schedule and
// policy. No resource grows with the number of databases: one rule fires the dispatcher
// every minute, which starts what is due (shared/domain/dispatch.ts); 200 databases package
// within CloudFormation's, Lambda's and IAM's limits (test/deploy/scale.test.ts).
//
// Used as `${file(./deploy/schedules.cjs):packagedConfig}`, `…:dispatchSchedule`,
// `…:secretResources`, `…:watchdogSchedule`, `…:staleAfterSeconds`, `…:retentionSchedule`,
// `…:retentionPolicy` and `…:archivers`. The config file is the stage parameter `configFile`
// (default `strongbox.config.json`, or the STRONGBOX_CONFIG environment variable), relative
// to the service folder.
'use strict';

const { readFileSync } = require('node:fs');
const path = require('node:path');
const { Buffer } = require('node:buffer');
const defaults = require('./schedules.json');

const SERVICE_DIR = path.resolve(__dirname, '..');
// The same rule as shared/domain/keys.ts (the name is a storage path segment).
const DATABASE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
// EventBridge's own syntax: six cron fields (with a year), or a rate.
const SCHEDULE = /^(cron\((\S+ ){5}\S+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$/;
// Secrets Manager appends `-` and six random characters to a secret's name in its full ARN.
// (A name that itself ends in `-` + six characters looks complete: AWS documents the same trap.)
const FULL_SECRET_ARN = /-[A-Za-z0-9]{6}$/;
const DEFAULT_STALE_AFTER_SECONDS = 600;
// An IAM role name, or its ARN (the endpoint compares the name: shared/domain/wal/archivers.ts).
const ARCHIVER_ROLE = /^(arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*)?[\w+=,.@-]{1,64}$/;
// STRONGBOX_ARCHIVERS' budget in the archive endpoint's 4 KB environment (ARCHIVERS_MAX_BYTES).
const ARCHIVERS_MAX_BYTES = 3072;

/** An error whose message says which file and which entry is wrong, and how to fix it. */
function configError(file, detail) {
  return new Error(
    `Strongbox config ${file}: ${detail}. HINT: the file looks like ` +
      '{"databases":[{"name":"app","secretArn":"arn:aws:secretsmanager:<region>:<account>:secret:<name>",' +
      `"schedule":"${defaults.logicalBackup}"}]}; choose another file with --param configFile=<path> ` +
      'or STRONGBOX_CONFIG=<path>.',
  );
}

/**
 * The error for a config file that does not exist: what was looked for, the ways to point at
 * another file, and the example to start from.
 */
function missingConfigError(file) {
  const relative = path.relative(SERVICE_DIR, file);
  const target = relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
  return new Error(
    `No Strongbox config file at ${file}: it names the databases to back up and the Secrets Manager ` +
      `secret of each. HINT: create it from the example: cp deploy/example.config.json ${target}, then put ` +
      'your databases and their secrets\' full ARNs in it (docs/deploy.md, "1. Describe the databases"); ' +
      'or point at another file with --param configFile=<path> or STRONGBOX_CONFIG=<path> (relative to ' +
      `${SERVICE_DIR}).`,
  );
}

function checkSchedule(file, where, value) {
  if (typeof value !== 'string' || !SCHEDULE.test(value)) {
    throw configError(file, `${where} must be an EventBridge expression like "cron(0 3 * * ? *)" or "rate(15 minutes)" (got ${JSON.stringify(value)})`);
  }
  return value;
}

function readDatabase(file, entry, index, seen) {
  const where = `databases[${index}]`;
  if (!entry || typeof entry !== 'object') throw configError(file, `${where} must be an object`);
  const { name, secretArn, compression, dumpJobs } = entry;
  if (typeof name !== 'string' || !DATABASE_NAME.test(name)) {
    throw configError(file, `${where}.name must be 1-63 letters, digits, "_", "." or "-" (got ${JSON.stringify(name)})`);
  }
  if (seen.has(name)) throw configError(file, `${where}.name "${name}" appears twice`);
  seen.add(name);
  if (typeof secretArn !== 'string' || !SECRET_ARN.test(secretArn)) {
    throw configError(file, `${where} ("${name}") needs a "secretArn" of a Secrets Manager secret: in AWS the dump task reads the connection from it`);
  }
  if (compression !== undefined && compression !== 'gzip' && compression !== 'zstd') {
    throw configError(file, `${where}.compression must be "gzip" or "zstd"`);
  }
  if (dumpJobs !== undefined && !(Number.isInteger(dumpJobs) && dumpJobs >= 1 && dumpJobs <= 32)) {
    throw configError(file, `${where}.dumpJobs must be a whole number from 1 to 32 (docs/backups.md)`);
  }
  const schedule = checkSchedule(file, `${where}.schedule`, entry.schedule === undefined ? defaults.logicalBackup : entry.schedule);
  const { archiverRole } = entry;
  if (archiverRole !== undefined && (typeof archiverRole !== 'string' || !ARCHIVER_ROLE.test(archiverRole))) {
    throw configError(file, `${where}.archiverRole must be the IAM role name or ARN of the hosts that archive "${name}"'s WAL`);
  }
  return { name, secretArn, schedule, ...(compression ? { compression } : {}), ...(dumpJobs !== undefined ? { dumpJobs } : {}), ...(archiverRole ? { archiverRole } : {}) };
}

/**
 * Reads and validates the config file for AWS. Returns
 * `{ databases: [{ name, secretArn, schedule, compression? }], watchdogSchedule, staleAfterSeconds }`
 * with defaults filled in (deploy/schedules.json). Throws an Error naming the file and the
 * faulty entry when the file is missing, is not JSON, or an entry lacks a valid name,
 * secretArn or schedule. Fields it does not know (local-mode settings) are ignored.
 */
function readConfig(configFile) {
  const file = path.resolve(SERVICE_DIR, configFile);
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') throw missingConfigError(file);
    throw configError(file, `cannot be read (${error.code || error.message})`);
  }
  let config;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw configError(file, `is not valid JSON (${error.message})`);
  }
  if (!config || !Array.isArray(config.databases) || config.databases.length === 0) {
    throw configError(file, '"databases" must be a non-empty array');
  }
  const seen = new Set();
  const databases = config.databases.map((entry, index) => readDatabase(file, entry, index, seen));
  const watchdogSchedule = checkSchedule(file, 'watchdogSchedule', config.watchdogSchedule === undefined ? defaults.watchdog : config.watchdogSchedule);
  const staleAfterSeconds = config.staleAfterSeconds === undefined ? DEFAULT_STALE_AFTER_SECONDS : config.staleAfterSeconds;
  if (!Number.isInteger(staleAfterSeconds) || staleAfterSeconds < 60 || staleAfterSeconds > 86_400) {
    throw configError(file, 'staleAfterSeconds must be a whole number of seconds from 60 to 86400');
  }
  const retention = readRetention(file, config.retention);
  return { databases, watchdogSchedule, staleAfterSeconds, retention };
}

// The fields of the `retention` section (shared/domain/retention/policy.ts has the full rules).
const RETENTION_FIELDS = ['dailyDays', 'weeklyDays', 'monthlyDays', 'monthlyColdAfterDays', 'failedDays', 'walDays', 'restorePointHours'];

/**
 * The `retention` section, checked for what packaging can tell: an object of known fields
 * holding whole numbers from 0. The retention function checks the rest (windows in order,
 * limits) when it runs, and alerts instead of deleting on a policy that makes no sense.
 */
function readRetention(file, section) {
  if (section === undefined || section === null) return {};
  if (typeof section !== 'object' || Array.isArray(section)) throw configError(file, '"retention" must be an object like {"dailyDays": 30}');
  for (const [field, value] of Object.entries(section)) {
    if (!RETENTION_FIELDS.includes(field)) throw configError(file, `retention.${field} is not a retention setting (known: ${RETENTION_FIELDS.join(', ')})`);
    if (!Number.isInteger(value) || value < 0) throw configError(file, `retention.${field} must be a whole number of days (hours for restorePointHours), got ${JSON.stringify(value)}`);
  }
  return section;
}

/**
 * An error osls prints as it is, once: osls passes on unchanged an error named
 * `ServerlessError` whose message starts with "Cannot resolve variable at"
 * (lib/configuration/variables/sources/file.js), and reports each distinct error object once.
 * Any other error it wraps with its stack trace, once for every variable that reads the config.
 */
class ServerlessError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
    // No stack trace in the output, whatever prints it.
    this.stack = message;
  }
}

// One error object per config file and message, shared by every resolver that reads it.
const packagingErrors = new Map();

/** The config for a serverless.yml resolver; a bad config fails the packaging with one message. */
async function configFrom(resolveVariable) {
  const configFile = await resolveVariable('param:configFile');
  try {
    return readConfig(configFile);
  } catch (error) {
    const key = `${configFile}\0${error.message}`;
    if (!packagingErrors.has(key)) {
      packagingErrors.set(key, new ServerlessError(`Cannot resolve variable at "params.configFile": ${error.message}`, 'STRONGBOX_CONFIG_INVALID'));
    }
    throw packagingErrors.get(key);
  }
}

// The monthly restore drill: 04:00 UTC on the 1st (after the 03:00 dump), unless
// deploy/schedules.json names another `validation` schedule.
const MONTHLY_VALIDATION = 'cron(0 4 1 * ? *)';

/**
 * The config as packaged into the functions (shared/domain/deploy-config.ts): every database
 * with its logical schedule, secret and compression, and the stack-wide schedules of the base
 * backup, the WAL checkpoint and the restore drill.
 */
function deployConfigOf(config) {
  return {
    databases: config.databases.map(({ name, secretArn, schedule, compression, dumpJobs }) => ({ name, secretArn, schedule, ...(compression ? { compression } : {}), ...(dumpJobs !== undefined ? { dumpJobs } : {}) })),
    baseBackup: defaults.baseBackup,
    walCheckpoint: defaults.walCheckpoint,
    validation: defaults.validation || MONTHLY_VALIDATION,
  };
}

/**
 * serverless.yml resolver: the packaged config as esbuild `define` wants a value — the
 * JavaScript string literal of its JSON — for `__STRONGBOX_DEPLOY_CONFIG__`
 * (shared/runtime/deploy-config.ts). Only the bundles that read it contain it.
 */
async function packagedConfig({ resolveVariable }) {
  return JSON.stringify(JSON.stringify(deployConfigOf(await configFrom(resolveVariable))));
}

/** serverless.yml resolver: the dispatcher's schedule (every minute; deploy/schedules.json `dispatch`). */
async function dispatchSchedule() {
  return defaults.dispatch;
}

// Up to this many secrets are granted one by one; past it, by the folders (name prefixes up
// to a "/") they share, so the policy does not grow with the databases (IAM: 10,240
// characters per role's inline policies; each ARN takes ~90).
const EXACT_SECRETS_MAX = 20;
// Past this many resources after grouping, the config is refused: name the secrets under
// shared folders (e.g. strongbox/<stage>/<database>).
const SECRET_PATTERNS_MAX = 40;

/**
 * The IAM resources for secretsmanager:GetSecretValue of `databases`' secrets. A partial ARN
 * (without the 6-character suffix) gets `-??????` so the policy still matches the secret.
 * With more than EXACT_SECRETS_MAX secrets, those sharing a folder (`…:secret:strongbox/prod/`)
 * are granted as `<folder>*`, each other one exactly; more than SECRET_PATTERNS_MAX resources
 * is an error naming the fix. Pure (exported for tests).
 */
function secretPatterns(databases, file) {
  const arns = [...new Set(databases.map(({ secretArn }) => (FULL_SECRET_ARN.test(secretArn) ? secretArn : `${secretArn}-??????`)))];
  if (arns.length <= EXACT_SECRETS_MAX) return arns;
  const byFolder = new Map();
  for (const arn of arns) {
    const slash = arn.lastIndexOf('/');
    const folder = slash > arn.indexOf(':secret:') ? arn.slice(0, slash + 1) : arn;
    byFolder.set(folder, [...(byFolder.get(folder) || []), arn]);
  }
  const patterns = [...byFolder].flatMap(([folder, members]) => (members.length > 1 && folder.endsWith('/') ? [`${folder}*`] : members));
  if (patterns.length > SECRET_PATTERNS_MAX) {
    throw configError(file, `the ${arns.length} database secrets need ${patterns.length} IAM resources (at most ${SECRET_PATTERNS_MAX}, or the roles' policies outgrow IAM's 10,240 characters): name the secrets under shared folders, e.g. strongbox/<stage>/<database>, and each folder is granted as one pattern`);
  }
  return patterns;
}

/** serverless.yml resolver: the IAM resources for secretsmanager:GetSecretValue (see secretPatterns). */
async function secretResources({ resolveVariable }) {
  const { databases } = await configFrom(resolveVariable);
  return secretPatterns(databases, path.resolve(SERVICE_DIR, await resolveVariable('param:configFile')));
}

/** serverless.yml resolver: the watchdog's schedule (config `watchdogSchedule`, default deploy/schedules.json). */
async function watchdogSchedule({ resolveVariable }) {
  return (await configFrom(resolveVariable)).watchdogSchedule;
}

/** serverless.yml resolver: seconds without a heartbeat before the watchdog fails a RUNNING backup. */
async function staleAfterSeconds({ resolveVariable }) {
  return String((await configFrom(resolveVariable)).staleAfterSeconds);
}

/**
 * serverless.yml resolver: the retention function's daily sweep over every database
 * (deploy/schedules.json `retention`). New backups trigger it too, through the
 * ObjectCreated topic.
 */
async function retentionSchedule() {
  return defaults.retention;
}

/** serverless.yml resolver: the config's `retention` section as JSON (STRONGBOX_RETENTION_POLICY; `{}` = the defaults). */
async function retentionPolicy({ resolveVariable }) {
  return JSON.stringify((await configFrom(resolveVariable)).retention);
}

/**
 * serverless.yml resolver: the archive endpoint's STRONGBOX_ARCHIVERS, which archiver role
 * may use which database's WAL archive, in the wire form of shared/domain/wal/archivers.ts
 * (`<role>=<db>,<db>;<role>=<db>`): each database under its `archiverRole`, else the stage
 * parameter `archiverRoleArn`. Empty when neither names any role (the endpoint then admits
 * every role its Function URL admits, and says so at WARN).
 */
async function archivers({ resolveVariable }) {
  const { databases } = await configFrom(resolveVariable);
  const file = path.resolve(SERVICE_DIR, await resolveVariable('param:configFile'));
  const fallback = await resolveVariable('param:archiverRoleArn');
  const refuse = (detail) => new ServerlessError(`Cannot resolve variable at "functions.archiveEndpoint.environment.STRONGBOX_ARCHIVERS": ${configError(file, detail).message}`, 'STRONGBOX_CONFIG_INVALID');
  const roleName = (role) => String(role).replace(/^arn:aws[a-z-]*:iam::\d{12}:role\/(?:.*\/)?/, '');
  if (!fallback && databases.every((database) => !database.archiverRole)) return '';
  const byRole = new Map();
  for (const database of databases) {
    const role = database.archiverRole || fallback;
    if (!role) throw refuse(`database "${database.name}" has no archiverRole while others have one: give it one, or set the stage parameter archiverRoleArn for all`);
    const name = roleName(role);
    byRole.set(name, [...(byRole.get(name) || []), database.name]);
  }
  let text = [...byRole].map(([role, names]) => `${role}=${names.join(',')}`).join(';');
  // One role archiving every database (the stage's archiverRoleArn for a fleet): past the
  // budget, `<role>=*` says the same without growing with the databases (hundreds of them).
  if (Buffer.byteLength(text) > ARCHIVERS_MAX_BYTES && byRole.size === 1) text = `${[...byRole.keys()][0]}=*`;
  if (Buffer.byteLength(text) > ARCHIVERS_MAX_BYTES) {
    throw refuse(`the archiver map (which role archives which database) is ${Buffer.byteLength(text)} bytes, over its ${ARCHIVERS_MAX_BYTES}-byte share of the endpoint's 4 KB environment: give databases that share a host role shorter names`);
  }
  return text;
}

module.exports = { archivers, packagedConfig, dispatchSchedule, deployConfigOf, secretResources, secretPatterns, watchdogSchedule, staleAfterSeconds, retentionSchedule, retentionPolicy, readConfig, configFrom };
