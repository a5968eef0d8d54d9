/**
 * Calls waiting for a reply on one channel, by request id. Ids are handed out in order, so a
 * power-of-two ring indexed by the id's low bits finds them without hashing; it doubles when an
 * id's slot is still held by an older call. Cheaper than a Map per call on the hot path.
 */
export class PendingCalls<T extends { id: number }> {
  private slots: Array<T | undefined> = new Array(64).fill(undefined);
  private mask = 63;
  private count = 0;

  get size(): number {
    return this.count;
  }

  set(call: T): void {
    while (this.slots[call.id & this.mask] !== undefined) this.grow();
    this.slots[call.id & this.mask] = call;
    this.count++;
  }

  get(id: number): T | undefined {
    const call = this.slots[id & this.mask];
    return call !== undefined && call.id === id ? call : undefined;
  }

  delete(id: number): T | undefined {
    const i = id & this.mask;
    const call = this.slots[i];
    if (call === undefined || call.id !== id) return undefined;
    this.slots[i] = undefined;
    this.count--;
    return call;
  }

  /** Remove and return every call. */
  drain(): T[] {
    const all = this.slots.filter((c): c is T => c !== undefined);
    this.slots.fill(undefined);
    this.count = 0;
    return all;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Array(old.length * 2).fill(undefined);
    this.mask = this.slots.length - 1;
    for (const call of old) if (call !== undefined) this.slots[call.id & this.mask] = call;
  }
}
