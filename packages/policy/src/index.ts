export * from './policy-set.ts';
export { Policies, durableGroupOf, type Decision, type Allowed, type Refused } from './policies.ts';
export { parseRate, rateLimit, formatRate } from './rate.ts';
export { PolicyWatcher, type PolicyAnswer } from './policy-watcher.ts';
export { DEFAULT_QUEUE_QUOTAS, parseByteSize, formatBytes, fitsWithin } from './queue-limit.ts';
