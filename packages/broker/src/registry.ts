import type { InstanceInfo, RegistryEvent } from '@squadron/protocol';

export interface RegistryWatcher {
  /** Peer brokers only want this site's own instances; clients want every site's. */
  readonly localOnly: boolean;
  send(event: RegistryEvent): void;
}

/**
 * The live instances this broker knows: its own site's (registered over their connections) and
 * other sites' (learned from their brokers). Every change is pushed to the watchers at once.
 */
export class Registry {
  private readonly local = new Map<string, InstanceInfo>();
  /** site → instance id → info */
  private readonly remote = new Map<string, Map<string, InstanceInfo>>();
  private readonly watchers = new Set<RegistryWatcher>();

  constructor(readonly site: string, private readonly sites: () => string[]) {}

  get localCount(): number {
    return this.local.size;
  }

  localInstances(): InstanceInfo[] {
    return [...this.local.values()];
  }

  allInstances(): InstanceInfo[] {
    const out = this.localInstances();
    for (const bySite of this.remote.values()) out.push(...bySite.values());
    return out;
  }

  addLocal(info: InstanceInfo): void {
    this.local.set(info.id, info);
    this.broadcast({ type: 'up', instance: info }, true);
  }

  removeLocal(id: string, reason: string): boolean {
    if (!this.local.delete(id)) return false;
    this.broadcast({ type: 'down', id, site: this.site, reason }, true);
    return true;
  }

  setLoad(id: string, inFlight: number): void {
    const info = this.local.get(id);
    if (info) info.inFlight = inFlight;
  }

  /** Replace everything known of a remote site (a fresh snapshot from its broker). */
  replaceRemote(site: string, instances: InstanceInfo[]): void {
    const previous = this.remote.get(site) ?? new Map<string, InstanceInfo>();
    const next = new Map(instances.filter((i) => i.site === site).map((i) => [i.id, i] as const));
    this.remote.set(site, next);
    for (const id of previous.keys()) if (!next.has(id)) this.broadcast({ type: 'down', id, site, reason: 'site resync' }, false);
    for (const [id, info] of next) if (!previous.has(id)) this.broadcast({ type: 'up', instance: info }, false);
  }

  addRemote(info: InstanceInfo): void {
    let bySite = this.remote.get(info.site);
    if (!bySite) this.remote.set(info.site, (bySite = new Map()));
    bySite.set(info.id, info);
    this.broadcast({ type: 'up', instance: info }, false);
  }

  removeRemote(site: string, id: string, reason: string): void {
    if (this.remote.get(site)?.delete(id)) this.broadcast({ type: 'down', id, site, reason }, false);
  }

  /** A remote site's broker is unreachable: its instances are too, as far as this site knows. */
  dropRemoteSite(site: string, reason: string): void {
    const bySite = this.remote.get(site);
    if (!bySite) return;
    this.remote.delete(site);
    for (const id of bySite.keys()) this.broadcast({ type: 'down', id, site, reason }, false);
  }

  watch(watcher: RegistryWatcher): () => void {
    this.watchers.add(watcher);
    const instances = watcher.localOnly ? this.localInstances() : this.allInstances();
    watcher.send({ type: 'snapshot', site: this.site, sites: this.sites(), instances });
    return () => this.watchers.delete(watcher);
  }

  private broadcast(event: RegistryEvent, isLocal: boolean): void {
    for (const w of this.watchers) if (isLocal || !w.localOnly) w.send(event);
  }
}
