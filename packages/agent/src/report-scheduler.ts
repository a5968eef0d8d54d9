/**
 * When the agent reports: soon after each change (changes within `coalesceMs` of each other go in
 * one report, since a restart is several transitions in a row), and at least every `everyMs` so
 * that the control plane does not take the agent for dead. One report is in flight at a time; a
 * change during one is sent right after it, so the last state always reaches the control plane.
 */
export class ReportScheduler {
  private soonTimer: NodeJS.Timeout | null = null;
  private everyTimer: NodeJS.Timeout | null = null;
  private everyMs = 0;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  /** `send` must not reject: it logs its own failures. */
  constructor(private readonly send: () => Promise<void>, private readonly coalesceMs = 20) {}

  /** Report at least this often from now on (0: only on changes). */
  every(ms: number): void {
    this.everyMs = ms;
    this.rearm();
  }

  /** A change happened: report within `coalesceMs`. */
  soon(): void {
    if (this.stopped || this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = null;
      void this.now();
    }, this.coalesceMs);
  }

  /** Report now (or right after the report in flight); resolves once sent or failed. */
  now(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.rearm();
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.send();
        } while (this.again && !this.stopped);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** No more reports, timed or on change. Resolves when the one in flight (if any) is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.soonTimer) clearTimeout(this.soonTimer);
    if (this.everyTimer) clearTimeout(this.everyTimer);
    this.soonTimer = this.everyTimer = null;
    await this.running;
  }

  private rearm(): void {
    if (this.everyTimer) clearTimeout(this.everyTimer);
    this.everyTimer = null;
    if (this.stopped || this.everyMs <= 0) return;
    this.everyTimer = setTimeout(() => {
      this.everyTimer = null;
      void this.now();
    }, this.everyMs);
  }
}
