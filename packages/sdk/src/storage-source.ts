/** The storage a service owns, by name: its kind and what a client needs to connect. */
export type StorageResources = Record<string, { kind: string; credentials: Record<string, unknown> }>;

/**
 * Where an instance finds its service's storage: its runtime keeps `current` up to date (from its
 * agent: the environment at start, then IPC), so a resource created or failed over later reaches
 * `ctx.storage()` without a restart.
 */
export class StorageHolder {
  current: StorageResources = {};

  set(resources: StorageResources): void {
    this.current = resources;
  }
}
