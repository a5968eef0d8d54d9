import type { Logger } from 'pino';
import type { ControlClient, StorageCredentialsBody } from '@squadron/client';

/** Environment with the storage an instance's service owns (JSON: name → kind and credentials); changes come over IPC. */
export const STORAGE_ENV = 'SQUADRON_STORAGE';
/** How often the storage of the services it runs is read: a resource created (or failed over) reaches instances within seconds. */
const STORAGE_EVERY_MS = 2000;

type Resources = Record<string, { kind: string; credentials: Record<string, unknown> }>;

const asResources = (list: StorageCredentialsBody[]): Resources => Object.fromEntries(list.map((s) => [s.name, { kind: s.kind, credentials: s.credentials }]));

/**
 * The storage each instance's service owns, for `ctx.storage(NAME)`: read from the control plane
 * before an instance starts (into its environment) and every two seconds after, each change sent
 * to the service's running instances over IPC, so a resource created after a deploy reaches them
 * without a restart.
 */
export class InstanceStorage {
  private readonly byService = new Map<string, string>();
  private readonly services = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly control: Pick<ControlClient, 'serviceStorage' | 'servicesStorage'>,
    private readonly update: (instance: string, env: Record<string, string>, message: object) => void,
    private readonly log: Logger,
  ) {}

  /** The environment for a new instance of `service`; empty (and read again later) if the control plane does not answer. */
  async env(instance: string, service: string): Promise<Record<string, string>> {
    let set = this.services.get(service);
    if (!set) this.services.set(service, (set = new Set()));
    set.add(instance);
    try {
      const text = JSON.stringify(asResources((await this.control.serviceStorage(service)).storage));
      this.byService.set(service, text);
      return { [STORAGE_ENV]: text };
    } catch (err) {
      this.log.debug({ service, err: (err as Error).message }, 'cannot read the service\'s storage yet; its instances get it once it can be read');
      return {};
    }
  }

  forget(instance: string): void {
    for (const set of this.services.values()) set.delete(instance);
  }

  watch(): void {
    this.timer ??= setInterval(() => void this.poll(), STORAGE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    const running = [...this.services].filter(([, instances]) => instances.size > 0);
    if (running.length === 0) return;
    let all: Record<string, StorageCredentialsBody[]>;
    try {
      // One request for every service it runs, however many.
      all = (await this.control.servicesStorage(running.map(([service]) => service))).storage;
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cannot read the services\' storage; keeping what their instances have');
      return;
    }
    for (const [service, instances] of running) {
      const list = all[service];
      if (!list) continue;
      const resources = asResources(list);
      const text = JSON.stringify(resources);
      if (text === this.byService.get(service)) continue;
      this.byService.set(service, text);
      for (const id of instances) this.update(id, { [STORAGE_ENV]: text }, { type: 'storage', resources });
    }
  }
}
