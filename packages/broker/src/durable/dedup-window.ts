/**
 * The producer ids of one queue seen within the dedup window, with the message each one stored.
 * Ids are remembered in time order, so the expired ones are dropped from the front as time
 * passes (amortised constant time); memory is bounded by what arrives within one window.
 */
export class DedupWindow {
  private readonly seqById = new Map<string, number>();
  private ids: string[] = [];
  private seqs: number[] = [];
  private times: number[] = [];
  private head = 0;

  constructor(private readonly windowMs: number) {}

  get size(): number {
    return this.seqById.size;
  }

  /** The message stored for `id` within the window, or undefined. */
  lookup(id: string, now: number): number | undefined {
    this.expire(now);
    return this.seqById.get(id);
  }

  remember(id: string, seq: number, at: number): void {
    if (at <= Date.now() - this.windowMs) return; // already outside the window (a replayed record)
    this.seqById.set(id, seq);
    this.ids.push(id);
    this.seqs.push(seq);
    this.times.push(at);
  }

  /** Undo `remember` (the message was never stored). */
  forget(id: string, seq: number): void {
    if (this.seqById.get(id) === seq) this.seqById.delete(id);
  }

  /** Drop what is older than the window. */
  expire(now: number): void {
    const horizon = now - this.windowMs;
    while (this.head < this.times.length && this.times[this.head]! <= horizon) {
      const id = this.ids[this.head]!;
      // A later remember of the same id (after a forget) is not this one.
      if (this.seqById.get(id) === this.seqs[this.head]) this.seqById.delete(id);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.ids = this.ids.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }
}
