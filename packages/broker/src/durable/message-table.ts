/** Where a message stands. Settled messages (acknowledged) leave the table. */
export const MessageState = {
  Settled: 0,
  Ready: 1,
  Delayed: 2,
  InFlight: 3,
  Dead: 4,
} as const;
export type MessageState = (typeof MessageState)[keyof typeof MessageState];

const MIN_CAPACITY = 1024;

/**
 * The in-memory index of one queue's messages, kept as columns of typed arrays in sequence
 * order: about 33 bytes a message and no object per message, so that a million-message queue
 * costs tens of megabytes and nothing for the garbage collector to trace. A message is found by
 * its sequence number with a binary search. Settled slots are dropped from the front as they go,
 * and the table is packed when most of it is holes.
 */
export class MessageTable {
  private capacity = MIN_CAPACITY;
  private seqs = new Float64Array(MIN_CAPACITY);
  private segments = new Uint32Array(MIN_CAPACITY);
  private offsets = new Uint32Array(MIN_CAPACITY);
  private notBefores = new Float64Array(MIN_CAPACITY);
  private deliveryCounts = new Uint32Array(MIN_CAPACITY);
  private states = new Uint8Array(MIN_CAPACITY);
  /** The size of each message's record in the log: what the queue's byte limit counts. */
  private sizes = new Uint32Array(MIN_CAPACITY);
  private head = 0;
  private tail = 0;
  /** Messages not settled. */
  live = 0;

  /** Add a message; its slot is returned (valid until the table next changes shape). */
  add(seq: number, segment: number, offset: number, notBefore: number, state: MessageState, size: number): number {
    if (this.tail === this.capacity) this.reshape(this.live + 1);
    let slot = this.tail;
    if (this.tail > this.head && this.seqs[this.tail - 1]! >= seq) {
      // Out of order (an append that finished late): make room at its place in the order.
      slot = this.lowerBound(seq);
      if (this.seqs[slot] === seq && slot < this.tail) throw new Error(`message ${seq} is already in the table`);
      this.shiftUp(slot);
    }
    this.tail++;
    this.seqs[slot] = seq;
    this.segments[slot] = segment;
    this.offsets[slot] = offset;
    this.notBefores[slot] = notBefore;
    this.deliveryCounts[slot] = 0;
    this.states[slot] = state;
    this.sizes[slot] = size;
    this.live++;
    return slot;
  }

  /** The slot of a message that is not settled, or -1. */
  slotOf(seq: number): number {
    const slot = this.lowerBound(seq);
    return slot < this.tail && this.seqs[slot] === seq && this.states[slot] !== MessageState.Settled ? slot : -1;
  }

  segmentAt(slot: number): number {
    return this.segments[slot]!;
  }

  offsetAt(slot: number): number {
    return this.offsets[slot]!;
  }

  notBeforeAt(slot: number): number {
    return this.notBefores[slot]!;
  }

  setNotBefore(slot: number, at: number): void {
    this.notBefores[slot] = at;
  }

  sizeAt(slot: number): number {
    return this.sizes[slot]!;
  }

  deliveriesAt(slot: number): number {
    return this.deliveryCounts[slot]!;
  }

  setDeliveries(slot: number, n: number): void {
    this.deliveryCounts[slot] = Math.min(n, 0xffffffff);
  }

  stateAt(slot: number): MessageState {
    return this.states[slot] as MessageState;
  }

  setState(slot: number, state: MessageState): void {
    this.states[slot] = state;
  }

  /** The message is done: its slot goes, and the table shrinks when it can. */
  settle(slot: number): void {
    this.states[slot] = MessageState.Settled;
    this.live--;
    while (this.head < this.tail && this.states[this.head] === MessageState.Settled) this.head++;
    if (this.head === this.tail) {
      this.head = this.tail = 0;
      if (this.capacity > MIN_CAPACITY) this.reshape(0);
    } else if (this.tail - this.head > 4 * MIN_CAPACITY && this.live * 4 < this.tail - this.head) {
      this.reshape(this.live);
    }
  }

  /** Sequence numbers of the messages in a state, oldest first, at most `limit`. */
  seqsIn(state: MessageState, limit = Infinity): number[] {
    const out: number[] = [];
    for (let slot = this.head; slot < this.tail && out.length < limit; slot++) if (this.states[slot] === state) out.push(this.seqs[slot]!);
    return out;
  }

  /** First slot in [head, tail) whose seq is at least `seq`. */
  private lowerBound(seq: number): number {
    let lo = this.head;
    let hi = this.tail;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private shiftUp(slot: number): void {
    for (const column of this.columns()) column.copyWithin(slot + 1, slot, this.tail);
  }

  private columns(): Array<Float64Array | Uint32Array | Uint8Array> {
    return [this.seqs, this.segments, this.offsets, this.notBefores, this.deliveryCounts, this.states, this.sizes];
  }

  /** Pack the live slots to the front of columns sized for `need` messages and room to grow. */
  private reshape(need: number): void {
    // Half as much again as needed: growth stays geometric, and a packed table is not half empty.
    const capacity = Math.max(MIN_CAPACITY, Math.ceil((need * 1.5) / MIN_CAPACITY) * MIN_CAPACITY);
    const dense = this.live === this.tail - this.head;
    // Without holes a column moves as one block (a memcpy); else slot by slot, in ascending order,
    // which never overwrites a slot not yet moved.
    const keep: number[] = [];
    if (!dense) for (let slot = this.head; slot < this.tail; slot++) if (this.states[slot] !== MessageState.Settled) keep.push(slot);
    const pack = <T extends Float64Array | Uint32Array | Uint8Array>(from: T, make: (n: number) => T): T => {
      const to = capacity === this.capacity ? from : make(capacity);
      if (dense) to.set(from.subarray(this.head, this.tail) as never);
      else for (let i = 0; i < keep.length; i++) to[i] = from[keep[i]!]!;
      return to;
    };
    this.seqs = pack(this.seqs, (n) => new Float64Array(n));
    this.segments = pack(this.segments, (n) => new Uint32Array(n));
    this.offsets = pack(this.offsets, (n) => new Uint32Array(n));
    this.notBefores = pack(this.notBefores, (n) => new Float64Array(n));
    this.deliveryCounts = pack(this.deliveryCounts, (n) => new Uint32Array(n));
    this.states = pack(this.states, (n) => new Uint8Array(n));
    this.sizes = pack(this.sizes, (n) => new Uint32Array(n));
    this.capacity = capacity;
    this.tail = this.live;
    this.head = 0;
  }
}
