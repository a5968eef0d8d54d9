/**
 * Where instances go and which ones leave, for one service in one site: a pure function of the
 * desired state, the placed instances with what their agents observe, and the site's agents.
 * The reconciler applies its answer in one transaction.
 *
 * Rolling update: instances of the new release start first (as many at once as free slots
 * allow); an old instance is drained only once enough new ones are ready that, without it, the
 * site still has `desired` ready instances. When a datacenter site is full, one old instance is
 * drained to make room (one fewer ready instance for a moment, never zero while desired > 0).
 */

export interface PlacedInstance {
  id: string;
  release: number;
  agent: string | null;
  draining: boolean;
  /** What its agent reports; `unknown` before the first report. */
  observed: 'pending' | 'starting' | 'ready' | 'crashed' | 'draining' | 'unknown';
  createdAt: number;
}

export interface SiteAgent {
  id: string;
  /** null: elastic (cloud). */
  slots: number | null;
  up: boolean;
  /** Instances placed on it, of every service, draining ones included (they still run). */
  used: number;
}

export interface PlacementInput {
  /** The release to run, or null when the service is not deployed. */
  release: number | null;
  /** Instances wanted in this site (0 when the site is not in the desired state). */
  desired: number;
  instances: PlacedInstance[];
  agents: SiteAgent[];
}

export interface PlacementPlan {
  /** One new instance on each agent listed (an agent may appear more than once). */
  start: string[];
  drain: string[];
  /** Placed on an agent that is gone: forgotten, so that they are placed again. */
  forget: string[];
}

export function plan(input: PlacementInput): PlacementPlan {
  const agents = new Map(input.agents.map((a) => [a.id, { ...a }]));
  const forget: string[] = [];
  const live: PlacedInstance[] = [];
  for (const i of input.instances) {
    const agent = i.agent === null ? undefined : agents.get(i.agent);
    if (!agent || !agent.up) forget.push(i.id);
    else live.push(i);
  }
  const running = live.filter((i) => !i.draining);
  const current = running.filter((i) => i.release === input.release);
  const old = running.filter((i) => i.release !== input.release);
  const desired = input.release === null ? 0 : input.desired;
  const drain: string[] = [];
  const start: string[] = [];

  // Too many of the current release: the ones not ready go first, then the newest.
  if (current.length > desired) {
    const extra = [...current].sort(byLeastUseful).slice(0, current.length - desired);
    drain.push(...extra.map((i) => i.id));
  }
  const keptCurrent = current.filter((i) => !drain.includes(i.id));

  // Start what is missing where there is room, least loaded agent first.
  let missing = Math.max(0, desired - keptCurrent.length);
  while (missing > 0) {
    const agent = roomiest([...agents.values()]);
    if (!agent) break;
    start.push(agent.id);
    agent.used++;
    missing--;
  }

  // Old instances leave once the current release can stand without them.
  const readyCurrent = keptCurrent.filter((i) => i.observed === 'ready').length;
  const oldByUse = [...old].sort(byLeastUseful);
  let drainOld = Math.max(0, readyCurrent + old.length - desired);
  // A full site makes no room by itself: free one slot by draining an old instance, one at a
  // time (like maxUnavailable 1), and only while nothing else is on its way (a new instance
  // starting, or an instance draining, whose slot comes free soon anyway).
  const startingCurrent = keptCurrent.length - readyCurrent;
  const draining = live.some((i) => i.draining);
  if (missing > 0 && drainOld === 0 && startingCurrent === 0 && start.length === 0 && !draining && old.length > 0) drainOld = 1;
  drain.push(...oldByUse.slice(0, Math.min(drainOld, old.length)).map((i) => i.id));
  return { start, drain, forget };
}

/** Not ready before ready; among equals, the newest first. */
function byLeastUseful(a: PlacedInstance, b: PlacedInstance): number {
  const ra = a.observed === 'ready' ? 1 : 0;
  const rb = b.observed === 'ready' ? 1 : 0;
  return ra - rb || b.createdAt - a.createdAt;
}

function roomiest(agents: Array<SiteAgent>): SiteAgent | undefined {
  let best: SiteAgent | undefined;
  for (const a of agents) {
    if (!a.up) continue;
    const free = a.slots === null ? Number.POSITIVE_INFINITY : a.slots - a.used;
    if (free <= 0) continue;
    if (!best || a.used < best.used) best = a;
  }
  return best;
}

/** Free slots of a site for a new deployment: null when elastic. */
export function freeSlots(agents: SiteAgent[]): number | null {
  const up = agents.filter((a) => a.up);
  if (up.some((a) => a.slots === null)) return null;
  return up.reduce((n, a) => n + Math.max(0, (a.slots ?? 0) - a.used), 0);
}
