const MIN_CAPACITY = 256;

/**
 * A binary min-heap of message sequence numbers in typed arrays, ordered by a priority given
 * with each (a due time), or by the sequence number itself when built without priorities.
 * Eight or sixteen bytes a message, no object per message. It shrinks again after a burst.
 */
export class SeqHeap {
  private seqs = new Float64Array(MIN_CAPACITY);
  private priorities: Float64Array | null;
  private n = 0;

  constructor(options: { byPriority: boolean }) {
    this.priorities = options.byPriority ? new Float64Array(MIN_CAPACITY) : null;
  }

  get size(): number {
    return this.n;
  }

  /** The smallest priority (or sequence number) in the heap, or null when it is empty. */
  peekPriority(): number | null {
    return this.n === 0 ? null : (this.priorities ?? this.seqs)[0]!;
  }

  push(seq: number, priority = seq): void {
    if (this.n === this.seqs.length) this.resize(this.seqs.length * 2);
    const seqs = this.seqs;
    const prio = this.priorities ?? seqs;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (prio[parent]! <= priority) break;
      seqs[i] = seqs[parent]!;
      if (prio !== seqs) prio[i] = prio[parent]!;
      i = parent;
    }
    seqs[i] = seq;
    prio[i] = priority;
  }

  /** Remove and return the sequence number with the smallest priority, or -1 when empty. */
  pop(): number {
    if (this.n === 0) return -1;
    const seqs = this.seqs;
    const prio = this.priorities ?? seqs;
    const top = seqs[0]!;
    const last = --this.n;
    const lastSeq = seqs[last]!;
    const lastPrio = prio[last]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      const c = r < last && prio[r]! < prio[l]! ? r : l;
      if (prio[c]! >= lastPrio) break;
      seqs[i] = seqs[c]!;
      if (prio !== seqs) prio[i] = prio[c]!;
      i = c;
    }
    seqs[i] = lastSeq;
    prio[i] = lastPrio;
    if (this.n < this.seqs.length / 4 && this.seqs.length > MIN_CAPACITY) this.resize(this.seqs.length / 2);
    return top;
  }

  private resize(capacity: number): void {
    const seqs = new Float64Array(capacity);
    seqs.set(this.seqs.subarray(0, this.n));
    this.seqs = seqs;
    if (this.priorities) {
      const prio = new Float64Array(capacity);
      prio.set(this.priorities.subarray(0, this.n));
      this.priorities = prio;
    }
  }
}
