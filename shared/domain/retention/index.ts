export { DEFAULT_RETENTION_POLICY, parseRetentionPolicy, retentionPolicyFromConfig, retentionPolicySchema } from './policy';
export type { RetentionPolicy, RetentionPolicyInput } from './policy';
export { planRetention } from './plan';
export type { RetentionAction, RetentionCatalog, RetentionDecision, RetentionPlan, RetentionRule } from './plan';
