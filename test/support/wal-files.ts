import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { parseSegmentHeader } from '../../shared/domain/wal/header';
import type { WalDeclaration } from '../../shared/usecases/wal-archive';

/** Fake but well-formed WAL files and their declarations, for archive endpoint tests. */

export const MIB = 1024 * 1024;
export const SYSTEM_ID = '7311234567890123456';
export const OTHER_SYSTEM_ID = '7400000000000000001';

/**
 * A WAL segment of `segmentSize` random bytes whose first page starts with a valid long
 * header (PostgreSQL 15's magic, XLP_LONG_HEADER, the system id and sizes).
 */
export function fakeSegment(options: { systemId?: string; segmentSize?: number; timeline?: number; segno?: bigint } = {}): Buffer {
  const segmentSize = options.segmentSize ?? MIB;
  const bytes = randomBytes(segmentSize);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint16(0, 0xd110, true); // PostgreSQL 15
  view.setUint16(2, 0x0002, true); // XLP_LONG_HEADER
  view.setUint32(4, options.timeline ?? 1, true);
  view.setBigUint64(8, (options.segno ?? 1n) * BigInt(segmentSize), true);
  view.setUint32(16, 0, true);
  view.setUint32(20, 0, true);
  view.setBigUint64(24, BigInt(options.systemId ?? SYSTEM_ID), true);
  view.setUint32(32, segmentSize, true);
  view.setUint32(36, 8192, true);
  return bytes;
}

/** `zstd -1` of `bytes`, as the WAL host's command makes it. */
export function zstdOf(bytes: Buffer): Buffer {
  return execFileSync('zstd', ['-1', '-q', '-c'], { input: bytes, maxBuffer: 64 * MIB });
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A declared file: the declaration and the bytes to store (compressed as declared). */
export interface DeclaredFile {
  declaration: WalDeclaration;
  stored: Buffer;
}

/** Declares a segment (its header gives systemId, segmentSize, pgVersion); gzip or zstd when asked. */
export function declareSegment(file: Buffer, compression: 'none' | 'gzip' | 'zstd' = 'none'): DeclaredFile {
  const header = parseSegmentHeader(file);
  const stored = compression === 'gzip' ? gzipSync(file, { level: 1 }) : compression === 'zstd' ? zstdOf(file) : file;
  return {
    stored,
    declaration: {
      size: file.length,
      sha256: sha256(file),
      storedSize: stored.length,
      storedSha256: sha256(stored),
      compression,
      systemId: header.systemId,
      segmentSize: header.segmentSize,
      ...(header.pgVersion !== undefined ? { pgVersion: header.pgVersion } : {}),
    },
  };
}

/**
 * A declaration that lies: `stored` as the stored bytes (their size and SHA-256 are
 * declared truthfully, as an attacker would), claiming to be `claims` (a segment's
 * declaration) compressed as `compression`.
 */
export function declareForged(stored: Buffer, claims: WalDeclaration, compression: 'none' | 'gzip' | 'zstd'): DeclaredFile {
  return { stored, declaration: { ...claims, compression, storedSize: stored.length, storedSha256: sha256(stored) } };
}

/** Declares a history file or backup label (no header, stored as is). */
export function declareSmallFile(text: string): DeclaredFile {
  const stored = Buffer.from(text);
  return { stored, declaration: { size: stored.length, sha256: sha256(stored), storedSize: stored.length, storedSha256: sha256(stored), compression: 'none' } };
}
