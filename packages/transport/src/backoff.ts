/** Exponential backoff between reconnects or restarts: `minMs`, doubling, capped at `maxMs`. */
export class Backoff {
  private attempt = 0;

  constructor(readonly minMs: number, readonly maxMs: number) {}

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The next delay, doubling each time. */
  next(): number {
    return Math.min(this.maxMs, this.minMs * 2 ** this.attempt++);
  }

  /** Back to `minMs` after a success. */
  reset(): void {
    this.attempt = 0;
  }
}
