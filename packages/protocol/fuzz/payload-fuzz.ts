/**
 * The payload fuzzer: random, deep, huge and malformed payloads (test/fuzz-payloads.ts) sent
 * through every route a payload travels (a call, a reply, a publish, an enqueue, a durable
 * publish) against a real broker, a running instance process and a callee that echoes raw bytes.
 * The property: nothing but the offending message fails. After each case a good marker goes the
 * same way and must arrive; at the end, the instance is still on its first broker connection,
 * the raw caller's connection and the caller's channel to the callee are the ones they were, and
 * the instance still serves.
 *
 * `npm run fuzz` runs it at full size after the frame fuzzer; a short run is part of `npm test`
 * (packages/protocol/test/payload-fuzz.test.ts).
 * Environment: PAYLOAD_FUZZ_RUNS (cases, default 2000), FUZZ_SEED (replay a run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { connect, type Client } from '@squadron/sdk';
import { startSites, waitFor } from '@squadron/testkit';
import { FrameKind, encode } from '../src/index.ts';
import { arbPayload, type PayloadCase } from '../test/fuzz-payloads.ts';
import { RawCaller, RawSender, startFakeInstance, startTarget, type TargetStats } from '../../sdk/test/poison-harness.ts';

export type PayloadRoute = 'call' | 'reply' | 'publish' | 'enqueue' | 'durable';
export const ROUTES: readonly PayloadRoute[] = ['call', 'reply', 'publish', 'enqueue', 'durable'];

/** One case that failed the property, or a check at the end that did. */
export interface PayloadFinding {
  case: number;
  route: PayloadRoute | 'end';
  kind: PayloadCase['kind'] | '-';
  bytes: number;
  problem: string;
}

export interface PayloadFuzzReport {
  seed: number;
  cases: number;
  /** Cases per route and outcome: `ok` (taken as a value) or `refused` (failed alone, typed). */
  outcomes: Record<PayloadRoute, { ok: number; refused: number }>;
  undecodable: TargetStats['client']['undecodable'];
  findings: PayloadFinding[];
}

const silent = pino({ level: 'silent' });
const marker = (i: number) => ({ good: i });

/** Run `runs` cases against a fresh broker, instance process and callee; never throws for a finding. */
export async function runPayloadFuzz(runs: number, seed = Date.now() ^ (Math.random() * 0x7fffffff)): Promise<PayloadFuzzReport> {
  const dir = mkdtempSync(join(tmpdir(), 'squadron-payload-fuzz-'));
  const sites = await startSites(['sto'], { dataDir: dir });
  const broker = sites.address('sto');
  const target = await startTarget(broker);
  const fake = await startFakeInstance(broker, 'sto', 'mimic');
  const clients: Client[] = [];
  const findings: PayloadFinding[] = [];
  const outcomes = Object.fromEntries(ROUTES.map((r) => [r, { ok: 0, refused: 0 }])) as PayloadFuzzReport['outcomes'];
  let caller: RawCaller | null = null;
  try {
    const attacker = await connect({ site: 'sto', broker, name: 'fuzz-attacker', logger: silent });
    const observer = await connect({ site: 'sto', broker, name: 'fuzz-observer', logger: silent });
    clients.push(attacker, observer);
    await observer.waitForInstances('target');
    await observer.waitForInstances('mimic');
    caller = await RawCaller.open(target.info.address);
    const raw = new RawSender(attacker);
    const stats = () => observer.call<TargetStats>('target', 'stats', null, { timeoutMs: 10_000 });
    const sent: Record<'events' | 'jobs' | 'durable', number> = { events: 0, jobs: 0, durable: 0 };

    const cases = fc.sample(fc.tuple(arbPayload, fc.constantFrom(...ROUTES)), { numRuns: runs, seed });
    for (const [i, [payload, route]] of cases.entries()) {
      const finding = (problem: string) => findings.push({ case: i, route, kind: payload.kind, bytes: payload.bytes.length, problem });
      try {
        switch (route) {
          case 'call': {
            const answer = await caller.request('echo', payload.bytes, 10_000);
            const [code, message] = answer.kind === FrameKind.ErrorReply ? answer.value as [string, string] : [null, ''];
            // Refused alone: undecodable (BAD_REQUEST), an echo over the reply limit, or one that
            // decodes but is nested too deep for the echo handler's reply to be encoded.
            if (code === null) outcomes.call.ok++;
            else if (code === 'BAD_REQUEST' || code === 'PAYLOAD_TOO_LARGE' || (code === 'HANDLER_ERROR' && /cannot be encoded/.test(message))) outcomes.call.refused++;
            else finding(`answered ${code}: ${message}`);
            const good = await caller.request('echo', encode(marker(i)), 10_000);
            if (good.kind !== FrameKind.Reply) finding('the good request after it was not answered');
            break;
          }
          case 'reply': {
            try {
              await observer.call('mimic', 'answer', payload.bytes, { timeoutMs: 10_000 });
              outcomes.reply.ok++;
            } catch (err) {
              const code = (err as { code?: string }).code;
              if (code === 'BAD_REQUEST') outcomes.reply.refused++;
              else finding(`the call failed with ${code ?? (err as Error).message}`);
            }
            const good = await observer.call<{ ok: unknown }>('mimic', 'answer', marker(i), { timeoutMs: 10_000 });
            if ((good.ok as { good?: number })?.good !== i) finding('the good call after it got a wrong reply');
            break;
          }
          case 'publish':
            raw.publish('poison.events', payload.bytes);
            attacker.publish('poison.events', marker(i));
            sent.events++;
            break;
          case 'enqueue':
            await raw.enqueue('poison.jobs', payload.bytes);
            await attacker.enqueue('poison.jobs', marker(i));
            sent.jobs++;
            break;
          case 'durable':
            await raw.publishDurable('poison.durable', payload.bytes);
            await attacker.publish('poison.durable', marker(i), { durable: true });
            sent.durable++;
            break;
        }
      } catch (err) {
        finding(`threw ${(err as Error).message}`);
      }
      // Let the broker drain now and then, so that markers are waited for in bounded batches.
      if (i % 50 === 49) await attacker.flush();
    }

    const end = (problem: string) => findings.push({ case: runs, route: 'end', kind: '-', bytes: 0, problem });
    let last: TargetStats | null = null;
    try {
      last = await waitFor(async () => {
        const s = await stats();
        return s.received.events.length >= sent.events && s.received.jobs.length >= sent.jobs && s.received.durable.length >= sent.durable ? s : null;
      }, 'every good marker at the instance', 60_000, 100);
    } catch (err) {
      const s = await stats().catch(() => null);
      end(`${(err as Error).message}: got ${s ? `${s.received.events.length}/${sent.events} publishes, ${s.received.jobs.length}/${sent.jobs} jobs, ${s.received.durable.length}/${sent.durable} durable` : 'no stats'}`);
      last = s;
    }
    for (const route of ['publish', 'enqueue', 'durable'] as const) outcomes[route].ok = outcomes[route].refused = 0;
    if (last) {
      if (last.client.brokerConnects !== 1) end(`the instance reconnected to its broker (${last.client.brokerConnects} connections)`);
      const u = last.client.undecodable;
      outcomes.publish.refused = u.message;
      outcomes.publish.ok = last.others.events;
      outcomes.enqueue.ok = last.others.jobs;
      outcomes.durable.ok = last.others.durable;
      outcomes.enqueue.refused = outcomes.durable.refused = u.delivery;
    }
    if (caller.conn.closed) end('the raw caller\'s connection to the instance was closed');
    if (fake.connections !== 1) end(`the caller opened ${fake.connections} connections to the callee (its channel broke)`);
    const echo = await observer.call('target', 'echo', 'still serving').catch((err: Error) => err);
    if (echo instanceof Error) end(`the instance no longer serves: ${echo.message}`);
    return {
      seed, cases: runs, outcomes, findings,
      undecodable: last?.client.undecodable ?? { request: 0, reply: 0, message: 0, delivery: 0 },
    };
  } finally {
    caller?.close();
    for (const c of clients) await c.close();
    await fake.close();
    await target.kill();
    await sites.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `npm run fuzz`: the full run, reported; exit status 1 on any finding. */
async function main(): Promise<void> {
  const runs = Number(process.env.PAYLOAD_FUZZ_RUNS ?? 2000);
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  const started = Date.now();
  const report = await runPayloadFuzz(runs, seed);
  console.log(`payload fuzz: ${report.cases} cases in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${report.seed} (FUZZ_SEED=${report.seed} replays it)`);
  for (const route of ROUTES) {
    const counted = route === 'enqueue' || route === 'durable' ? ' (deliveries of queues and durable topics together, each retry counted)' : '';
    console.log(`  ${route.padEnd(8)} taken ${report.outcomes[route].ok}, failed alone ${report.outcomes[route].refused}${counted}`);
  }
  console.log(`  undecodable at the instance: ${JSON.stringify(report.undecodable)}`);
  if (report.findings.length === 0) {
    console.log('  no finding: nothing but the offending message failed');
    return;
  }
  console.log(`  ${report.findings.length} finding(s):`);
  for (const f of report.findings.slice(0, 20)) console.log(`    case ${f.case} ${f.route} ${f.kind} (${f.bytes} bytes): ${f.problem}`);
  process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
