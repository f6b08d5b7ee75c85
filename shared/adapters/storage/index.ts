export type { ColdArea, ObjectCreatedListener, ObjectInfo, Storage, WriteOptions, WriteResult } from '../../ports/storage';
export { hasColdArea, isLocked } from '../../ports/storage';
export { FolderStorage } from './folder';
export { S3Storage, type S3StorageOptions } from './s3';
export { makeS3Client, type S3ClientOptions } from './s3-client';
export { HashingStream, digestBytes, type StreamDigest } from '../../domain/hashing-stream';
export { assertValidKey, assertValidPrefix } from './keys';
export type { ObjectCreatedInfo } from './listeners';
