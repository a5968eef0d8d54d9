import type { InstanceInfo } from '@squadron/protocol';
import type { SiteKind } from './config.ts';

/** Shapes of the HTTP API's bodies, shared by the server and the typed client. */

export interface HealthBody {
  status: 'ok';
  version: string;
  uptimeMs: number;
}

export interface SiteBody {
  name: string;
  kind: SiteKind;
  broker: { address: string } | null;
}

export interface SitesBody {
  sites: SiteBody[];
}

export interface SubscriptionBody {
  topic: string;
  group: string;
  members: number;
  delivered: number;
  dropped: number;
}

export interface SiteStatusBody extends SiteBody {
  /** `up: false` when the broker did not answer; `error` says why. */
  brokerStatus: {
    up: boolean;
    connections: number;
    published: number;
    peers: Array<{ site: string; up: boolean; forwarded: number; dropped: number }>;
    subscriptions: SubscriptionBody[];
    error?: string;
  };
}

export interface InstanceBody extends Pick<InstanceInfo, 'id' | 'service' | 'site' | 'address' | 'pid' | 'inFlight' | 'startedAt'> {
  methods: string[];
  topics: string[];
}

export interface StatusBody {
  sites: SiteStatusBody[];
  services: Array<{ name: string; instances: InstanceBody[] }>;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/** One durable queue in one site. */
export interface QueueRowBody {
  site: string;
  queue: string;
  /** Messages waiting (ready or delayed), not in flight, not dead. */
  depth: number;
  inFlight: number;
  dead: number;
  enqueued: number;
  delivered: number;
  acked: number;
  redelivered: number;
  deadLettered: number;
}

export interface DeadLetterBody {
  seq: number;
  id: string;
  deliveries: number;
  error: string | null;
  enqueuedAt: number;
}
