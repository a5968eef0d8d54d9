/** Calls refused for one caller-to-service pair. */
export interface RejectionCounts {
  rateLimited: number;
  denied: number;
}

/** How a pair is named in reports: `service:relay>vault` (the caller's key, then the callee). */
export const pairKey = (caller: string, callee: string) => `${caller}>${callee}`;

/**
 * Refused calls per caller-to-service pair since the instance started: those this instance
 * refused as a callee, and those its own calls were refused by the mirror of a callee's policy.
 */
export class Rejections {
  private readonly byPair = new Map<string, RejectionCounts>();
  /** Bumped on every refusal: lets a reporter skip sending what has not changed. */
  changes = 0;

  count(caller: string, callee: string, why: keyof RejectionCounts): void {
    const key = pairKey(caller, callee);
    let e = this.byPair.get(key);
    if (!e) this.byPair.set(key, (e = { rateLimited: 0, denied: 0 }));
    e[why]++;
    this.changes++;
  }

  snapshot(): Record<string, RejectionCounts> {
    return Object.fromEntries([...this.byPair].map(([k, v]) => [k, { ...v }]));
  }
}
