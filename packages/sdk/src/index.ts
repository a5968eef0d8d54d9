export { defineService, normalizeService } from './define.ts';
export type {
  ServiceDefinition, MethodHandler, MethodSpec, MessageHandler, SubscriptionSpec, NormalizedService, QueueHandler, ConsumerSpec,
} from './define.ts';
export type { Context, MessageContext, DeliveryContext, EnqueueOptions, EnqueueResult } from './context.ts';
export type { Consumer, ConsumeOptions } from './consumers.ts';
export { Client, connect } from './client.ts';
export type { ConnectOptions, SubscribeOptions, ClientStats } from './client.ts';
export type { UndecodableCounts, PayloadSite } from './payload-failures.ts';
export type { Subscription } from './subscriptions.ts';
export { runService } from './runtime.ts';
export { DEFAULT_RATE_LIMIT } from './caller-limits.ts';
export type { RateLimit } from './caller-limits.ts';
export { PolicyHolder, type PolicySource } from './policy-source.ts';
export { StorageHolder, type StorageResources } from './storage-source.ts';
export type { RejectionCounts } from './rejections.ts';
export type { RunOptions, RunningService } from './runtime.ts';
export { platformUrl, resolveBroker, requestClientIdentity } from './resolve-broker.ts';
export {
  DEFAULT_TIMEOUT_MS, DEFAULT_RETRY_POLICY, DEFAULT_OUTLIER_POLICY,
} from './options.ts';
export type { CallOptions, BalancePolicy, RetryPolicy, OutlierPolicy } from './options.ts';
export {
  SquadronError, NoInstancesError, TimeoutError, DeadlineExceededError, NoSuchMethodError, HandlerError,
  BadRequestError, PayloadTooLargeError, ProtocolError, ConnectionLostError, UnavailableError, ClosedError,
  ErrorCode,
} from '@squadron/protocol';
