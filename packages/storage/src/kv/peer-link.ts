import { callKv } from './http-call.ts';
import type { ChangesReply, PeerLink, SnapshotReply } from './replication.ts';

/** A peer site's kv server over HTTP, as replication reaches it. */
export class HttpPeerLink implements PeerLink {
  constructor(readonly site: string, readonly address: string, private readonly secret: string, private readonly timeoutMs = 2000) {}

  changes(since: number, limit: number, from: string): Promise<ChangesReply> {
    const q = new URLSearchParams({ since: String(since), limit: String(limit), from });
    return callKv<ChangesReply>(this.address, { method: 'GET', path: `/replication/changes?${q}`, secret: this.secret, timeoutMs: this.timeoutMs });
  }

  snapshot(after: { namespace: string; key: string } | null, limit: number): Promise<SnapshotReply> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (after) {
      q.set('afterNamespace', after.namespace);
      q.set('afterKey', after.key);
    }
    return callKv<SnapshotReply>(this.address, { method: 'GET', path: `/replication/snapshot?${q}`, secret: this.secret, timeoutMs: this.timeoutMs * 5 });
  }

  async wake(from: string): Promise<void> {
    await callKv<null>(this.address, { method: 'POST', path: '/replication/wake', body: { site: from }, secret: this.secret, timeoutMs: this.timeoutMs });
  }
}
