/** Something with a deadline that must be told when the deadline passes. */
export interface Expiring {
  readonly deadline: number;
  expire(): void;
  /** Links owned by DeadlineWheel: the item is its own list node, so adding allocates nothing. */
  prevDue: Expiring | null;
  nextDue: Expiring | null;
  dueList: DueList | null;
}

/** Items whose timeouts round to the same length; appended in time order, so due in order. */
export interface DueList {
  key: number;
  head: Expiring | null;
  tail: Expiring | null;
}

/**
 * The deadlines of calls in flight, served by one interval timer instead of a timer per call (at
 * 100k+ calls a second, a Timeout object per call is a large share of the caller's garbage). As
 * Node's own timers do, items are kept in one list per timeout length, where they fall due in
 * order; but the item is the list node. An item expires within about `tickMs` of its deadline.
 */
export class DeadlineWheel {
  private readonly lists = new Map<number, DueList>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly tickMs = 4) {}

  add(item: Expiring, now: number): void {
    const key = Math.round((item.deadline - now) / this.tickMs);
    let list = this.lists.get(key);
    if (list === undefined) this.lists.set(key, (list = { key, head: null, tail: null }));
    item.dueList = list;
    item.prevDue = list.tail;
    item.nextDue = null;
    if (list.tail !== null) list.tail.nextDue = item;
    else list.head = item;
    list.tail = item;
    this.timer ??= setInterval(() => this.sweep(), this.tickMs);
  }

  remove(item: Expiring): void {
    const list = item.dueList;
    if (list === null) return;
    if (item.prevDue !== null) item.prevDue.nextDue = item.nextDue;
    else list.head = item.nextDue;
    if (item.nextDue !== null) item.nextDue.prevDue = item.prevDue;
    else list.tail = item.prevDue;
    item.prevDue = item.nextDue = null;
    item.dueList = null;
    if (list.head === null) this.lists.delete(list.key);
  }

  private sweep(): void {
    const now = Date.now();
    for (const list of this.lists.values()) {
      while (list.head !== null && list.head.deadline <= now) {
        const item = list.head;
        this.remove(item);
        item.expire();
      }
    }
    if (this.lists.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
