import { hostname } from 'node:os';
import type { AuthSource } from '@squadron/transport';
import type { AuthBody, InstanceInfo, RegistryEvent, WireLimits } from '@squadron/protocol';
import { InstanceChannel } from './instance-channel.ts';
import { InstanceHealth } from './outlier.ts';
import type { PayloadFailures } from './payload-failures.ts';
import type { BalancePolicy, OutlierPolicy } from './options.ts';

/** This host's identity; instances on the same host are reached over their Unix socket. */
export const HOST_ID = `${hostname()}/${process.getuid?.() ?? 0}`;

/** One callee instance as a caller sees it: where it is, how it is doing, its channel. */
export class InstanceEntry {
  readonly health: InstanceHealth;
  private channel: InstanceChannel | null = null;

  constructor(
    readonly info: InstanceInfo,
    outlier: OutlierPolicy,
    private readonly auth: AuthSource,
    private readonly limits: WireLimits | undefined,
    private readonly failures: PayloadFailures | null,
  ) {
    this.health = new InstanceHealth(outlier);
  }

  get outstanding(): number {
    return this.channel?.outstanding ?? 0;
  }

  isIdempotent(method: string): boolean {
    for (const m of this.info.methods) if (m.name === method) return m.idempotent;
    return false;
  }

  channelFor(): InstanceChannel {
    let ch = this.channel;
    if (ch === null || ch.isClosed) {
      const address = this.info.unixPath && this.info.host === HOST_ID ? `unix://${this.info.unixPath}` : this.info.address;
      ch = new InstanceChannel(address, this.auth, () => {
        if (this.channel === ch) this.channel = null;
      }, this.limits, this.failures);
      this.channel = ch;
    }
    return ch;
  }

  retire(): void {
    this.channel?.closeWhenIdle();
  }

  /** Prove the process's renewed credential on the open connection. */
  reauthenticate(): void {
    this.channel?.reauthenticate();
  }

  close(): void {
    this.channel?.close();
  }
}

interface ServiceEntry {
  /** site → its instances */
  bySite: Map<string, InstanceEntry[]>;
  rr: number;
}

/**
 * The caller's view of the registry, kept current by the broker's watch stream, and the choice
 * of an instance for each call: the preferred site first, then the others in configured order;
 * inside a site, least outstanding requests over two random choices (or round-robin).
 */
export class Directory {
  private readonly services = new Map<string, ServiceEntry>();
  private readonly byId = new Map<string, InstanceEntry>();
  private siteOrder: string[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly site: string,
    private readonly outlier: OutlierPolicy,
    private readonly auth: AuthSource,
    private readonly balance: BalancePolicy,
    private readonly limits?: WireLimits,
    /** Where replies that cannot be decoded are counted. */
    private readonly failures: PayloadFailures | null = null,
  ) {}

  get sites(): readonly string[] {
    return this.siteOrder;
  }

  /**
   * After a renewal, prove the new credential on every open callee connection, so that none is
   * cut off when the credential it was opened with expires (and no call is disturbed).
   */
  reauthenticateAll(): void {
    for (const entry of this.byId.values()) entry.reauthenticate();
  }

  instances(service?: string): InstanceInfo[] {
    const out: InstanceInfo[] = [];
    for (const e of this.byId.values()) if (!service || e.info.service === service) out.push(e.info);
    return out;
  }

  /** Called after every change; tests and tools wait on it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  apply(event: RegistryEvent): void {
    switch (event.type) {
      case 'snapshot': {
        const keep = new Set(event.instances.map((i) => i.id));
        for (const id of [...this.byId.keys()]) if (!keep.has(id)) this.remove(id);
        for (const info of event.instances) if (!this.byId.has(info.id)) this.add(info);
        this.siteOrder = [this.site, ...event.sites.filter((s) => s !== this.site)];
        break;
      }
      case 'up':
        if (this.byId.has(event.instance.id)) this.remove(event.instance.id);
        this.add(event.instance);
        break;
      case 'down':
        this.remove(event.id);
        break;
    }
    for (const l of this.listeners) l();
  }

  private add(info: InstanceInfo): void {
    const entry = new InstanceEntry(info, this.outlier, this.auth, this.limits, this.failures);
    this.byId.set(info.id, entry);
    let svc = this.services.get(info.service);
    if (!svc) this.services.set(info.service, (svc = { bySite: new Map(), rr: 0 }));
    let list = svc.bySite.get(info.site);
    if (!list) svc.bySite.set(info.site, (list = []));
    list.push(entry);
  }

  private remove(id: string): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    this.byId.delete(id);
    const list = this.services.get(entry.info.service)?.bySite.get(entry.info.site);
    if (list) {
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
    }
    entry.retire();
  }

  /** Choose an instance, or null when no healthy one is left outside `exclude`. */
  pick(service: string, exclude: Set<InstanceEntry> | null, preferSite?: string): InstanceEntry | null {
    const svc = this.services.get(service);
    if (!svc) return null;
    const now = Date.now();
    if (preferSite) {
      const chosen = this.pickIn(svc, svc.bySite.get(preferSite), exclude, now);
      if (chosen) return chosen;
    }
    for (const site of this.siteOrder) {
      if (site === preferSite) continue;
      const chosen = this.pickIn(svc, svc.bySite.get(site), exclude, now);
      if (chosen) return chosen;
    }
    return null;
  }

  private pickIn(svc: ServiceEntry, list: InstanceEntry[] | undefined, exclude: Set<InstanceEntry> | null, now: number): InstanceEntry | null {
    if (!list || list.length === 0) return null;
    let candidates = list;
    // Fast path: nothing excluded or ejected, which is nearly every call.
    let filtered = false;
    for (const e of list) {
      if ((exclude !== null && exclude.has(e)) || !e.health.available(now)) {
        filtered = true;
        break;
      }
    }
    if (filtered) {
      candidates = list.filter((e) => !(exclude !== null && exclude.has(e)) && e.health.available(now));
      if (candidates.length === 0) return null;
    }
    let chosen: InstanceEntry;
    if (candidates.length === 1) chosen = candidates[0]!;
    else if (this.balance === 'round-robin') chosen = candidates[svc.rr++ % candidates.length]!;
    else {
      const n = candidates.length;
      const a = (Math.random() * n) | 0;
      let b = (Math.random() * (n - 1)) | 0;
      if (b >= a) b++;
      const ea = candidates[a]!;
      const eb = candidates[b]!;
      chosen = eb.outstanding < ea.outstanding ? eb : ea;
    }
    chosen.health.chosen();
    return chosen;
  }

  close(): void {
    for (const e of this.byId.values()) e.close();
  }
}
