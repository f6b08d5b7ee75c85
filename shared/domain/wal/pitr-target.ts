import { InputError } from '../../errors';
import { formatLsn, parseLsn, type Lsn } from './names';

/**
 * What a point-in-time recovery aims at, parsed from the user's words, and the
 * recovery_target_* settings PostgreSQL needs for it. Pure.
 */
export type PitrTarget =
  | { type: 'time'; at: Date; /** True when the user gave no zone and UTC was assumed (said back to them). */ assumedUtc: boolean }
  | { type: 'lsn'; lsn: Lsn }
  | { type: 'xid'; xid: string }
  | { type: 'name'; name: string }
  | { type: 'latest' };

export interface PitrTargetFlags {
  time?: string;
  lsn?: string;
  xid?: string;
  name?: string;
  latest?: boolean;
}

const ZONE = /(Z|[+-]\d{2}(:?\d{2})?)$/i;

/**
 * Exactly one of the flags, parsed. A time without a zone is UTC (`assumedUtc`). Throws
 * InputError for none or several targets, or a value that does not parse.
 */
export function parsePitrTarget(flags: PitrTargetFlags): PitrTarget {
  const given = (['time', 'lsn', 'xid', 'name', 'latest'] as const).filter((key) => flags[key] !== undefined && flags[key] !== false);
  if (given.length !== 1) {
    throw new InputError(
      given.length === 0 ? 'no recovery target given' : `several recovery targets given (${given.map((g) => `--${g}`).join(', ')})`,
      'give exactly one of --time T, --lsn L, --xid X, --name N or --latest',
    );
  }
  if (flags.time !== undefined) return parseTime(flags.time);
  if (flags.lsn !== undefined) return { type: 'lsn', lsn: parseLsn(flags.lsn) };
  if (flags.xid !== undefined) {
    if (!/^\d{1,19}$/.test(flags.xid) || flags.xid === '0') throw new InputError(`--xid ${flags.xid} is not a transaction id`, 'give the decimal id, e.g. from txid_current() or the server log');
    return { type: 'xid', xid: flags.xid };
  }
  if (flags.name !== undefined) {
    if (flags.name.length === 0 || Buffer.byteLength(flags.name) > 63) throw new InputError('--name must be 1–63 bytes', 'use the name given to `strongbox restore-point`');
    return { type: 'name', name: flags.name };
  }
  return { type: 'latest' };
}

function parseTime(text: string): PitrTarget {
  const trimmed = text.trim();
  const iso = trimmed.replace(' ', 'T');
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?/.test(iso)) {
    throw new InputError(`--time ${JSON.stringify(text)} is not a time`, "write it as 2026-11-24T03:12:00Z (a time without a zone is taken as UTC)");
  }
  const assumedUtc = !ZONE.test(iso);
  const at = new Date(assumedUtc ? `${iso.includes('T') ? iso : `${iso}T00:00:00`}Z` : iso);
  if (Number.isNaN(at.getTime())) throw new InputError(`--time ${JSON.stringify(text)} is not a valid time`, 'write it as 2026-11-24T03:12:00Z');
  return { type: 'time', at, assumedUtc };
}

/** The target as people read it. */
export function describeTarget(target: PitrTarget): string {
  switch (target.type) {
    case 'time':
      return `time ${target.at.toISOString()}${target.assumedUtc ? ' (no zone given: UTC)' : ''}`;
    case 'lsn':
      return `LSN ${formatLsn(target.lsn)}`;
    case 'xid':
      return `transaction ${target.xid}`;
    case 'name':
      return `restore point "${target.name}"`;
    case 'latest':
      return 'the end of the archived WAL';
  }
}

/**
 * The recovery settings for the target: stop there (before it with `exclusive`), on
 * `timeline` (default: the latest one the archive has), then promote.
 */
export function recoveryTargetSettings(target: PitrTarget, exclusive: boolean, timeline?: number): Record<string, string> {
  const settings: Record<string, string> = { recovery_target_timeline: timeline === undefined ? 'latest' : String(timeline) };
  switch (target.type) {
    case 'time':
      settings.recovery_target_time = target.at.toISOString().replace('T', ' ').replace('Z', '+00');
      break;
    case 'lsn':
      settings.recovery_target_lsn = formatLsn(target.lsn);
      break;
    case 'xid':
      settings.recovery_target_xid = target.xid;
      break;
    case 'name':
      settings.recovery_target_name = target.name;
      break;
    case 'latest':
      return settings;
  }
  settings.recovery_target_inclusive = exclusive ? 'off' : 'on';
  settings.recovery_target_action = 'promote';
  return settings;
}
