import type { InstanceInfo } from '@squadron/protocol';
import type { SubscriptionStats } from './pubsub.ts';

/** What a broker answers to a Query: the basis of `squadron status`. */
export interface BrokerStats {
  site: string;
  address: string;
  sites: string[];
  connections: number;
  published: number;
  /** This site's live instances. */
  instances: InstanceInfo[];
  peers: Array<{ site: string; address: string; up: boolean; forwarded: number }>;
  subscriptions: SubscriptionStats[];
}
