import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planPlacement, type PlacedInstance, type SiteAgent } from '@squadron/control';

/** A site as the reconciler sees it, and a step of the world: agents start what was placed, drained ones exit. */
interface World {
  release: number;
  desired: number;
  instances: PlacedInstance[];
  agents: SiteAgent[];
}

const used = (w: World, agent: string) => w.instances.filter((i) => i.agent === agent).length;
const readyCount = (instances: PlacedInstance[]) => instances.filter((i) => !i.draining && i.observed === 'ready').length;

function step(w: World, n: number): { next: World; readyAfterPlan: number; startedOn: string[] } {
  const agents = w.agents.map((a) => ({ ...a, used: used(w, a.id) }));
  const p = planPlacement({ release: w.release, desired: w.desired, instances: w.instances, agents });
  const forgotten = new Set(p.forget);
  const drained = new Set(p.drain);
  const kept = w.instances.filter((i) => !forgotten.has(i.id)).map((i) => (drained.has(i.id) ? { ...i, draining: true } : i));
  const readyAfterPlan = readyCount(kept);
  // Next round: what was started is ready; what was draining before this round has exited,
  // what was drained in it is still finishing its requests (and holds its slot).
  const next: PlacedInstance[] = kept.filter((i) => !i.draining).map((i) => ({ ...i, observed: 'ready' as const }));
  p.start.forEach((agent, k) => next.push({ id: `n${n}-${k}`, release: w.release, agent, draining: false, observed: 'starting', createdAt: n }));
  return { next: { ...w, instances: [...next, ...kept.filter((i) => drained.has(i.id))] }, readyAfterPlan, startedOn: p.start };
}

const worldArb = fc.record({
  desired: fc.integer({ min: 0, max: 6 }),
  oldReady: fc.integer({ min: 0, max: 6 }),
  slots: fc.option(fc.integer({ min: 1, max: 8 }), { nil: null }),
  agentCount: fc.integer({ min: 1, max: 3 }),
});

describe('placement (rolling update)', () => {
  it('converges to exactly the desired instances of the new release, never dropping more than one ready instance below the target', () => {
    fc.assert(fc.property(worldArb, ({ desired, oldReady, slots, agentCount }) => {
      const agents: SiteAgent[] = Array.from({ length: agentCount }, (_, k) => ({ id: `a${k}`, slots, up: true, used: 0 }));
      const capacity = slots === null ? Infinity : slots * agentCount;
      fc.pre(oldReady <= capacity && desired <= capacity);
      const old: PlacedInstance[] = Array.from({ length: oldReady }, (_, k) => ({ id: `o${k}`, release: 1, agent: `a${k % agentCount}`, draining: false, observed: 'ready', createdAt: 0 }));
      // Old instances spread over agents without overfilling any.
      fc.pre(agents.every((a) => slots === null || old.filter((i) => i.agent === a.id).length <= slots));
      let w: World = { release: 2, desired, instances: old, agents };
      for (let n = 1; n <= 4 * (desired + oldReady) + 4; n++) {
        const before = readyCount(w.instances);
        const { next, readyAfterPlan, startedOn } = step(w, n);
        for (const a of agents) if (slots !== null) assert.ok(used(next, a.id) <= slots, `agent ${a.id} over its ${slots} slots`);
        assert.ok(readyAfterPlan >= Math.min(desired, before) - 1, `step ${n}: ready fell from ${before} to ${readyAfterPlan} (desired ${desired})`);
        if (slots === null) assert.ok(readyAfterPlan >= Math.min(desired, before), `elastic: ready fell from ${before} to ${readyAfterPlan}`);
        assert.ok(startedOn.every((a) => agents.some((x) => x.id === a)));
        w = next;
      }
      const live = w.instances.filter((i) => !i.draining);
      assert.equal(live.length, desired);
      assert.ok(live.every((i) => i.release === 2 && i.observed === 'ready'));
    }), { numRuns: 400 });
  });

  it('keeps old instances while the new release cannot get ready (a crash loop rolls out nothing)', () => {
    const agents: SiteAgent[] = [{ id: 'a', slots: null, up: true, used: 3 }];
    const instances: PlacedInstance[] = [
      ...[0, 1].map((k) => ({ id: `old${k}`, release: 1, agent: 'a', draining: false, observed: 'ready' as const, createdAt: 0 })),
      ...[0, 1].map((k) => ({ id: `new${k}`, release: 2, agent: 'a', draining: false, observed: 'crashed' as const, createdAt: 1 })),
    ];
    const p = planPlacement({ release: 2, desired: 2, instances, agents });
    assert.deepEqual(p, { start: [], drain: [], forget: [] });
  });

  it('places again what ran on a dead agent, on a live one', () => {
    const agents: SiteAgent[] = [{ id: 'dead', slots: 4, up: false, used: 1 }, { id: 'live', slots: 4, up: true, used: 0 }];
    const p = planPlacement({ release: 1, desired: 1, instances: [{ id: 'i1', release: 1, agent: 'dead', draining: false, observed: 'ready', createdAt: 0 }], agents });
    assert.deepEqual(p, { start: ['live'], drain: [], forget: ['i1'] });
  });

  it('drains everything when the service is undeployed, the least useful first when scaling down', () => {
    const agents: SiteAgent[] = [{ id: 'a', slots: null, up: true, used: 3 }];
    const instances: PlacedInstance[] = [
      { id: 'r1', release: 1, agent: 'a', draining: false, observed: 'ready', createdAt: 0 },
      { id: 'r2', release: 1, agent: 'a', draining: false, observed: 'ready', createdAt: 1 },
      { id: 's3', release: 1, agent: 'a', draining: false, observed: 'starting', createdAt: 2 },
    ];
    assert.deepEqual(planPlacement({ release: null, desired: 0, instances, agents }).drain.sort(), ['r1', 'r2', 's3']);
    assert.deepEqual(planPlacement({ release: 1, desired: 1, instances, agents }).drain, ['s3', 'r2']);
  });
});
