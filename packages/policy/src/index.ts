export * from './policy-set.ts';
export { Policies, type Decision, type Allowed, type Refused } from './policies.ts';
export { parseRate, rateLimit, formatRate } from './rate.ts';
export { PolicyWatcher, POLICIES_EVERY_MS, type PolicyAnswer, type PolicySource as PolicyFeed } from './policy-watcher.ts';
