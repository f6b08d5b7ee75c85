import { S3_PART_LIMITS, type PartLimits } from '../../domain/part-plan';
import { StorageError } from '../../errors';
import type { MultipartTuning } from './s3-multipart';

const MIB = 1024 * 1024;

/** Tuning of an {@link S3Storage}. */
export interface S3StorageOptions {
  /** Keys are stored under `<prefix>/`; empty or absent means the bucket's root. */
  prefix?: string;
  /**
   * The smallest multipart part of `putStream`; default 8 MiB, at least 5 MiB (S3's minimum).
   * Parts are larger when the write's size estimate needs it, or the stream outruns it
   * (shared/domain/part-plan.ts).
   */
  partSizeBytes?: number;
  /** Parts uploaded in parallel by `putStream`, at most; default 4. */
  queueSize?: number;
  /** Memory for one `putStream`'s part buffers; default 1 GiB. Large parts fly fewer at a time (at least one). */
  uploadMemoryBytes?: number;
  /** S3's part limits, scaled down by tests; default S3's own. */
  partLimits?: PartLimits;
  /** Told each part as it is sent (tests, benchmarks). */
  onPart?: MultipartTuning['onPart'];
  /** Keys asked per ListObjectsV2 page; default (and S3's maximum) 1000. Smaller values exist for tests. */
  listPageSize?: number;
  /** Keys per DeleteObjects call; default (and S3's maximum) 1000. */
  deleteBatchSize?: number;
}

/** The tuning of an S3Storage, defaults applied. */
export interface S3Tuning {
  partSize: number;
  queueSize: number;
  uploadMemory: number;
  partLimits: PartLimits;
  onPart: MultipartTuning['onPart'];
  listPageSize: number;
  deleteBatchSize: number;
}

/**
 * The options with their defaults.
 *
 * @throws StorageError when they are out of S3's limits.
 */
export function s3Tuning(options: S3StorageOptions): S3Tuning {
  const tuning: S3Tuning = {
    partSize: options.partSizeBytes ?? 8 * MIB,
    queueSize: options.queueSize ?? 4,
    uploadMemory: options.uploadMemoryBytes ?? 1024 * MIB,
    partLimits: options.partLimits ?? S3_PART_LIMITS,
    onPart: options.onPart,
    listPageSize: options.listPageSize ?? 1000,
    deleteBatchSize: options.deleteBatchSize ?? 1000,
  };
  if (tuning.partSize < 5 * MIB || tuning.queueSize < 1 || tuning.listPageSize < 1 || tuning.deleteBatchSize < 1 || tuning.deleteBatchSize > 1000) {
    throw new StorageError('S3 storage tuning out of range', 'use partSizeBytes ≥ 5 MiB, queueSize ≥ 1, listPageSize ≥ 1 and 1 ≤ deleteBatchSize ≤ 1000');
  }
  return tuning;
}
