export { Broker } from './broker.ts';
export type { BrokerOptions } from './broker.ts';
export type { BrokerStats } from './stats.ts';
export type { QueueStats } from './durable/queue-store.ts';
export type { SubscriptionStats } from './pubsub.ts';
export type { SubscriberDropStats } from './subscriber-drops.ts';
export { BROKER_RUNTIME } from './runtime.ts';
