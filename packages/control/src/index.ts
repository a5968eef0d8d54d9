export { buildControlServer } from './server.ts';
export type { ControlServerOptions } from './server.ts';
export { ControlClient, ApiError } from './client.ts';
export type { ControlClientOptions } from './client.ts';
export { Sites } from './sites.ts';
export { queryBroker, askBroker } from './broker-admin.ts';
export { Queues } from './queues.ts';
export { loadConfig, validateConfig, DEFAULT_CONFIG, ConfigError } from './config.ts';
export type { PlatformConfig, SiteConfig, SiteKind } from './config.ts';
export type {
  HealthBody, SiteBody, SitesBody, StatusBody, SiteStatusBody, InstanceBody, SubscriptionBody, ErrorBody, QueueRowBody, DeadLetterBody,
} from './api-types.ts';
