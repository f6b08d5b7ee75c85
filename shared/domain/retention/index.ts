export { DEFAULT_RETENTION_POLICY, parseRetentionPolicy, retentionPolicyFromConfig, retentionPolicySchema } from './policy';
export type { RetentionPolicy, RetentionPolicyInput } from './policy';
export { planRetention } from './plan';
export { deletedByMark, isWalMark } from './wal-plan';
export type {
  RestorePointDecision,
  RestorePointView,
  RetentionAction,
  RetentionCatalog,
  RetentionDecision,
  RetentionPlan,
  RetentionRule,
  WalDatabaseView,
  WalDecision,
  WalRetentionMark,
} from './types';
