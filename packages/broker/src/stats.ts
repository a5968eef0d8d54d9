import type { InstanceInfo, LoadRejections } from '@squadron/protocol';
import type { RefusalStats } from './messaging-guard.ts';
import type { SubscriptionStats } from './pubsub.ts';
import type { SubscriberDropStats } from './subscriber-drops.ts';
import type { DurableLogStats } from './durable/durable-log.ts';

/** What a broker answers to a Query: the basis of `squadron status`. */
export interface BrokerStats {
  site: string;
  address: string;
  sites: string[];
  connections: number;
  published: number;
  /** This site's live instances, with the calls each refused per caller (when it refused any). */
  instances: Array<InstanceInfo & { rejections?: LoadRejections }>;
  /** Publishes, subscriptions and consumers this broker refused, per caller and topic or queue. */
  refusals: RefusalStats[];
  /** Links to other sites: publishes forwarded over each, and dropped because it was down or behind. */
  peers: Array<{ site: string; address: string; up: boolean; forwarded: number; dropped: number }>;
  subscriptions: SubscriptionStats[];
  /** Messages subscribers dropped themselves, their handlers behind (as each last reported), per subscriber and subscription. */
  subscriberDrops: SubscriberDropStats[];
  /** The broker process's memory, in bytes: resident, JS heap (reserved, in use), buffers outside the heap. */
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number };
  /** The durable log, when the broker keeps one: records appended and fdatasyncs since start (their ratio is the group commit), segments, corrupt records found at start. */
  log: DurableLogStats | null;
}
