import { StrongboxError } from '../errors';
import type { BaseBackupInfo } from './backup';
import { DEFAULT_SEGMENT_SIZE, formatLsn, parseLsn, segmentName, segnoOfLsn } from './wal/names';

/**
 * What a base backup says about itself, read from its own files as they pass in the tar
 * stream: `backup_label` (where its WAL starts, on which timeline, its label),
 * `backup_manifest`'s WAL-Ranges (where it ends, on which timeline) and `global/pg_control`
 * (the cluster's system identifier). Pure.
 */

/** The entries of a base backup's tar the facts come from, and how much of each to keep. */
export const BASE_TAR_CAPTURE = {
  backup_label: { maxBytes: 64 * 1024 },
  tablespace_map: { maxBytes: 64 * 1024 },
  // The WAL-Ranges are the manifest's last lines; the file list before them can be megabytes.
  backup_manifest: { maxBytes: 64 * 1024, keep: 'tail' },
  'global/pg_control': { maxBytes: 16 },
} as const;

/** The fields of backup_label a recovery depends on. */
export interface BackupLabel {
  startLsn: string;
  checkpointLsn: string;
  timeline: number;
  /** `primary` or `standby`. */
  from: string;
  label: string;
}

/** One `WAL-Ranges` item of a backup_manifest. */
export interface WalRange {
  timeline: number;
  startLsn: string;
  endLsn: string;
}

function invalid(message: string): StrongboxError {
  return new StrongboxError('BASE_BACKUP_INVALID', message, 'the base backup cannot be trusted: take it again, and report this if it repeats');
}

/** Parses backup_label. Throws BASE_BACKUP_INVALID when a needed line is missing. */
export function parseBackupLabel(text: string): BackupLabel {
  const field = (name: string): string | undefined => new RegExp(`^${name}: (.*)$`, 'm').exec(text)?.[1]?.trim();
  const start = /^([0-9A-F]+\/[0-9A-F]+)/i.exec(field('START WAL LOCATION') ?? '')?.[1];
  const checkpoint = field('CHECKPOINT LOCATION');
  const timeline = Number(field('START TIMELINE'));
  if (!start || !checkpoint || !Number.isInteger(timeline) || timeline < 1) {
    throw invalid(`backup_label lacks START WAL LOCATION, CHECKPOINT LOCATION or START TIMELINE: ${JSON.stringify(text.slice(0, 300))}`);
  }
  return { startLsn: formatLsn(parseLsn(start)), checkpointLsn: formatLsn(parseLsn(checkpoint)), timeline, from: field('BACKUP FROM') ?? 'primary', label: field('LABEL') ?? '' };
}

/**
 * The WAL-Ranges of a backup_manifest, from its text or only its tail (the array is the
 * manifest's last member). Throws BASE_BACKUP_INVALID when there is none.
 */
export function parseWalRanges(manifestTail: string): WalRange[] {
  const at = manifestTail.lastIndexOf('"WAL-Ranges"');
  const open = manifestTail.indexOf('[', at);
  const close = manifestTail.indexOf(']', open);
  if (at === -1 || open === -1 || close === -1) throw invalid('backup_manifest has no WAL-Ranges');
  let items: unknown;
  try {
    items = JSON.parse(manifestTail.slice(open, close + 1));
  } catch {
    throw invalid('backup_manifest\'s WAL-Ranges are not JSON');
  }
  const ranges = (Array.isArray(items) ? items : []).map((item: Record<string, unknown>) => ({
    timeline: Number(item.Timeline),
    startLsn: String(item['Start-LSN']),
    endLsn: String(item['End-LSN']),
  }));
  if (ranges.length === 0 || ranges.some((r) => !Number.isInteger(r.timeline) || !/^[0-9A-F]+\/[0-9A-F]+$/i.test(r.startLsn) || !/^[0-9A-F]+\/[0-9A-F]+$/i.test(r.endLsn))) {
    throw invalid(`backup_manifest's WAL-Ranges are malformed: ${manifestTail.slice(open, close + 1).slice(0, 300)}`);
  }
  return ranges;
}

/** The system identifier at the start of pg_control (a little-endian uint64), in decimal. */
export function systemIdFromPgControl(head: Uint8Array): string {
  if (head.length < 8) throw invalid('global/pg_control is missing or shorter than 8 bytes');
  return Buffer.from(head.buffer, head.byteOffset, 8).readBigUInt64LE(0).toString();
}

/** What the tar stream yielded, for baseBackupInfo. */
export interface BaseTarFacts {
  label: string;
  manifestTail: string;
  pgControlHead: Uint8Array;
  /** Names of the entries of the tar (to check that the WAL is inside). */
  names: readonly string[];
  tablespaceMap?: string;
}

/**
 * The catalog's `base` record of a backup from its tar's own files. The WAL needed for
 * consistency runs from the segment holding the start LSN (start timeline) to the one
 * holding the last byte before the stop LSN (stop timeline), as pg_basebackup -X fetch
 * copies it. `walIncluded` is true only when every such segment is in the tar.
 *
 * Throws BASE_BACKUP_INVALID when a file is missing or they disagree (start LSN or
 * timeline of backup_label against the manifest, system id against `expectedSystemId`).
 */
export function baseBackupInfo(facts: BaseTarFacts, context: { pgVersion: number; expectedSystemId?: string; segmentSize?: number }): BaseBackupInfo {
  const segmentSize = context.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const label = parseBackupLabel(facts.label);
  const ranges = parseWalRanges(facts.manifestTail);
  const first = ranges.reduce((a, b) => (parseLsn(b.startLsn) < parseLsn(a.startLsn) ? b : a));
  const last = ranges.reduce((a, b) => (parseLsn(b.endLsn) > parseLsn(a.endLsn) ? b : a));
  if (parseLsn(first.startLsn) !== parseLsn(label.startLsn) || first.timeline !== label.timeline) {
    throw invalid(`backup_label starts at ${label.startLsn} on timeline ${label.timeline}, its manifest at ${first.startLsn} on timeline ${first.timeline}`);
  }
  const systemId = systemIdFromPgControl(facts.pgControlHead);
  if (context.expectedSystemId !== undefined && context.expectedSystemId !== systemId) {
    throw invalid(`the backup's pg_control has system identifier ${systemId}, the server said ${context.expectedSystemId}: was the connection moved to another cluster?`);
  }
  const stopLsn = parseLsn(last.endLsn);
  const firstSegno = segnoOfLsn(parseLsn(label.startLsn), segmentSize);
  const lastSegno = segnoOfLsn(stopLsn > 0n ? stopLsn - 1n : 0n, segmentSize);
  const firstSegment = segmentName(label.timeline, firstSegno, segmentSize);
  const lastSegment = segmentName(last.timeline, lastSegno, segmentSize);
  return {
    startLsn: label.startLsn,
    stopLsn: formatLsn(stopLsn),
    timeline: label.timeline,
    stopTimeline: last.timeline,
    systemId,
    pgVersion: context.pgVersion,
    walSegments: { first: firstSegment, last: lastSegment },
    label: facts.label,
    walIncluded: segmentsPresent(facts.names, firstSegno, lastSegno, segmentSize),
  };
}

/** True when pg_wal/ in the tar holds every segment from `first` to `last` (on whichever timeline). */
function segmentsPresent(names: readonly string[], first: bigint, last: bigint, segmentSize: number): boolean {
  // The segment number is the name's last 16 hex digits; the timeline (first 8) may switch in between.
  const present = new Set(names.map((name) => /^pg_wal\/[0-9A-F]{8}([0-9A-F]{16})$/.exec(name)?.[1]).filter((part) => part !== undefined));
  for (let segno = first; segno <= last; segno++) {
    if (!present.has(segmentName(1, segno, segmentSize).slice(8))) return false;
  }
  return true;
}
