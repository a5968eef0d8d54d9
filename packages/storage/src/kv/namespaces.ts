import { badField } from './kv-errors.ts';

/**
 * Whose keys a namespace holds. A service's are `svc.NAME`, an API app's `app.NAME`: owner
 * names are lower-case letters, digits and dashes, never a dot, so the dot after the kind ends
 * the prefix and no two owners, of either kind and whatever their names, share a namespace (a
 * property test checks it). Before, an app `foo` and a service `app-foo` both got `app-foo`.
 */
export const OWNER_NAMESPACE_PATTERN = '^(svc|app)\\.[a-z][a-z0-9-]{0,62}$';

const OWNER_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const ownerNamespaceRe = new RegExp(OWNER_NAMESPACE_PATTERN);

function owned(kind: 'svc' | 'app', name: string): string {
  if (!OWNER_NAME.test(name)) throw badField('namespace', `'${name}' is not a service or app name (lower-case letters, digits and dashes, starting with a letter)`);
  return `${kind}.${name}`;
}

/** The namespace of a service's own keys (`ctx.storage(NAME)` of kind kv). */
export const serviceNamespace = (service: string): string => owned('svc', service);

/** The namespace of an API app's keys (`/v1/kv` with its key). */
export const appNamespace = (app: string): string => owned('app', app);

/** Whether `namespace` is one an owner gets (what a KvClient works in). */
export const isOwnerNamespace = (namespace: string): boolean => ownerNamespaceRe.test(namespace);
