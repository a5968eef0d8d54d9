export { buildControlServer } from './server.ts';
export type { ControlServerOptions } from './server.ts';
export { Sites } from './sites.ts';
export { queryBroker, askBroker } from './broker-admin.ts';
export { Queues } from './queues/queue-listing.ts';
export { loadConfig, validateConfig, DEFAULT_CONFIG, ConfigError } from './config.ts';
export type { PlatformConfig, SiteConfig, SiteKind } from './config.ts';
export { openStateStore } from './state/open-state.ts';
export { StateStoreError } from './state/state-errors.ts';
export type { Db, Queryable, Migration } from './state/db.ts';
export { MIGRATIONS } from './state/schema.ts';
export { adminTokenAt } from './auth/tokens.ts';
export { plan as planPlacement } from './deploy/placement.ts';
export type { PlacementInput, PlacementPlan, PlacedInstance, SiteAgent } from './deploy/placement.ts';
export {
  ControlErrorCode, UnauthenticatedError, ForbiddenError, NotFoundError, ConflictError, NoCapacityError, InvalidInputError,
} from './control-errors.ts';
