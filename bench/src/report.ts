// Turns rows into the printed table, the ratios against each peer, the issue's target checks,
// and the files under bench/results/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findRow, type Row, type ScenarioId, type SystemId, SCENARIO_LABEL, SYSTEM_LABEL } from './row.ts';
import { ratio } from './stats.ts';
import { DURABILITY, DURABLE_IN_FLIGHT } from './durability.ts';

export interface Meta {
  date: string;
  cores: number;
  cpu: string;
  node: string;
  platform: string;
  calls: number;
  /** Rounds of every row; each row shows its median round. */
  rounds: number;
  warmup: number;
  payloadBytes: number;
  only: string[] | null;
  totalSeconds: number;
}

export interface Check {
  variant: 'default' | 'tcp-only' | 'pubsub' | 'durable' | 'deploy';
  name: string;
  target: string;
  /** What was measured, with the numbers it came from. */
  measured: string;
  /** INFO: a comparison shown without a target. */
  status: 'PASS' | 'MISS' | 'N/A' | 'INFO';
}

const PEERS: readonly SystemId[] = ['nats', 'moleculer'];
/** Durable peers, those that fsync before the ack (Squadron's durability) first. */
const DURABLE_PEERS: readonly SystemId[] = ['redis', 'jetstream-sync', 'jetstream'];
const DURABLE_SCENARIOS: readonly ScenarioId[] = ['enqueue', 'consume'];

const int = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : Math.round(n).toLocaleString('en-US'));
const us = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(1));
const x = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : '—');

/** Which Squadron row a given row is compared against (same transport where that matters). */
function squadronFor(row: Row): Array<[SystemId, string]> {
  if (row.scenario === 'pubsub' || DURABLE_SCENARIOS.includes(row.scenario)) return row.system === 'squadron' ? [] : [['squadron', 'squadron']];
  switch (row.system) {
    case 'raw-unix': return [['squadron-unix', 'squadron']];
    case 'raw-tcp': return [['squadron-tcp', 'squadron-tcp']];
    case 'nats':
    case 'moleculer': return [['squadron-unix', 'squadron'], ['squadron-tcp', 'squadron-tcp']];
    default: return [];
  }
}

function ratioCell(rows: readonly Row[], row: Row): string {
  if (row.status !== 'ok') return '';
  return squadronFor(row)
    .filter(([sys]) => findRow(rows, sys, row.scenario) !== undefined)
    .map(([sys, name]) => `${name}/${row.system} ${x(ratio(findRow(rows, sys, row.scenario)?.rate, row.rate))}`
      + (row.syncedBeforeAck === false ? ' (not equal durability)' : ''))
    .join(', ');
}

export function table(rows: readonly Row[]): string {
  const head = '| system | scenario | rate (/s) | p50 µs | p99 µs | squadron vs this (rate) | notes |';
  const rule = '|---|---|--:|--:|--:|---|---|';
  const lines = rows.map((r) => {
    // A durable row's note starts with its durability, whether it ran or not.
    const notes = [r.durability ?? '', r.status === 'ok'
      ? [r.errors ? `${r.errors} errors` : '', r.drops !== undefined ? `drops ${r.drops} of ${int(r.count)}` : '', r.note ?? '']
        .filter(Boolean).join('; ')
      : `${r.status}: ${(r.reason ?? '').split('\n')[0]}`].filter(Boolean).join('; ');
    return `| ${SYSTEM_LABEL[r.system]} | ${SCENARIO_LABEL[r.scenario]} | ${int(r.rate)} | ${us(r.p50Us)} | ${us(r.p99Us)} | ${ratioCell(rows, r)} | ${notes} |`;
  });
  return [head, rule, ...lines].join('\n');
}

function bestPeer(rows: readonly Row[], scenario: ScenarioId): Row | undefined {
  let best: Row | undefined;
  for (const p of PEERS) {
    const r = findRow(rows, p, scenario);
    if (r?.rate !== undefined && (best?.rate === undefined || r.rate > best.rate)) best = r;
  }
  return best;
}

function judge(value: number, ok: (v: number) => boolean): Check['status'] {
  return Number.isFinite(value) ? (ok(value) ? 'PASS' : 'MISS') : 'N/A';
}

function rateVsBestPeer(rows: readonly Row[], sys: SystemId, variant: Check['variant'], scenario: ScenarioId, min: number): Check {
  const sq = findRow(rows, sys, scenario);
  const peer = bestPeer(rows, scenario);
  const r = ratio(sq?.rate, peer?.rate);
  return {
    variant, name: `${SCENARIO_LABEL[scenario]}: rate vs best peer`, target: `≥ ${min.toFixed(2)}x`,
    measured: peer ? `${x(r)} (${int(sq?.rate)} vs ${SYSTEM_LABEL[peer.system]} ${int(peer.rate)})` : 'no peer row',
    status: judge(r, (v) => v >= min),
  };
}

/** The issue's targets, for Squadron's default (unix) and its TCP-only variant. */
export function checks(rows: readonly Row[]): Check[] {
  const out: Check[] = [];
  const variants: Array<[Check['variant'], SystemId, SystemId]> = [['default', 'squadron-unix', 'raw-unix'], ['tcp-only', 'squadron-tcp', 'raw-tcp']];
  for (const [variant, sys, floor] of variants) {
    out.push(rateVsBestPeer(rows, sys, variant, 'rpc-1', 1.4));
    const sq1 = findRow(rows, sys, 'rpc-1');
    const raw1 = findRow(rows, floor, 'rpc-1');
    const p50r = ratio(sq1?.p50Us, raw1?.p50Us);
    out.push({
      variant, name: `${SCENARIO_LABEL['rpc-1']}: p50 vs raw floor (${SYSTEM_LABEL[floor]})`, target: '≤ 1.40x',
      measured: `${x(p50r)} (${us(sq1?.p50Us)} µs vs ${us(raw1?.p50Us)} µs)`,
      status: judge(p50r, (v) => v <= 1.4),
    });
    out.push(rateVsBestPeer(rows, sys, variant, 'rpc-64', 1.4));
    const p99 = findRow(rows, sys, 'rpc-64')?.p99Us;
    out.push({
      variant, name: `${SCENARIO_LABEL['rpc-64']}: p99`, target: '≤ 2.00 ms',
      measured: p99 === undefined ? '—' : `${(p99 / 1000).toFixed(2)} ms`,
      status: judge(p99 ?? Number.NaN, (v) => v <= 2000),
    });
  }
  const sqPs = findRow(rows, 'squadron', 'pubsub');
  const natsPs = findRow(rows, 'nats', 'pubsub');
  const psr = ratio(sqPs?.rate, natsPs?.rate);
  out.push({
    variant: 'pubsub', name: 'pub/sub 1→1: msgs/s vs nats.js', target: '≥ 1.30x',
    measured: `${x(psr)} (${int(sqPs?.rate)} vs ${int(natsPs?.rate)} msgs/s)`,
    status: judge(psr, (v) => v >= 1.3),
  });
  out.push(...durableChecks(rows));
  out.push(...deployChecks(rows));
  out.push(...fleetChecks(rows));
  return out;
}

/** Many idle services: memory per instance against the bare Node floor, the platform's idle CPU, the time to deploy them all. */
function fleetChecks(rows: readonly Row[]): Check[] {
  const sq = findRow(rows, 'squadron', 'fleet');
  const floor = findRow(rows, 'node-floor', 'fleet');
  if (!rows.some((r) => r.scenario === 'fleet')) return [];
  const n = sq?.count ?? floor?.count ?? 0;
  const mem = ratio(sq?.rssBytes, floor?.rssBytes);
  const mb = (b: number | undefined) => (b === undefined ? '—' : `${(b / 1048576).toFixed(1)} MB`);
  return [
    {
      variant: 'deploy', name: `${n} ${SCENARIO_LABEL.fleet}: resident memory per idle instance vs a bare node server`, target: '≤ 1.50x',
      measured: `${x(mem)} (${mb(sq?.rssBytes)} vs ${mb(floor?.rssBytes)})`, status: judge(mem, (v) => v <= 1.5),
    },
    {
      variant: 'deploy', name: `${n} ${SCENARIO_LABEL.fleet}: idle CPU of the whole platform`, target: '< 5% of a core',
      measured: sq?.idleCpuPercent === undefined ? '—' : `${sq.idleCpuPercent.toFixed(2)}% (floor ${floor?.idleCpuPercent?.toFixed(2) ?? '—'}%)`,
      status: judge(sq?.idleCpuPercent ?? Number.NaN, (v) => v < 5),
    },
    {
      variant: 'deploy', name: `${n} ${SCENARIO_LABEL.fleet}: deploy all (--no-wait) until every one answers`, target: '< 60 s',
      measured: sq?.elapsedMs === undefined ? '—' : `${(sq.elapsedMs / 1000).toFixed(1)} s (floor ${floor?.elapsedMs === undefined ? '—' : `${(floor.elapsedMs / 1000).toFixed(1)} s`})`,
      status: judge(sq?.elapsedMs ?? Number.NaN, (v) => v < 60_000),
    },
  ];
}

/** Deploy to first call: the target, and what the platform adds to the runner by hand. */
function deployChecks(rows: readonly Row[]): Check[] {
  const cli = findRow(rows, 'squadron-cli', 'deploy');
  const api = findRow(rows, 'squadron-api', 'deploy');
  const floor = findRow(rows, 'squadron-run', 'deploy');
  if (!rows.some((r) => r.scenario === 'deploy')) return [];
  const s = (u: number | undefined) => (u === undefined ? '—' : `${(u / 1e6).toFixed(2)} s`);
  return [
    {
      variant: 'deploy', name: `${SCENARIO_LABEL.deploy}: squadron deploy, median (slowest)`, target: '< 2.00 s',
      measured: `${s(cli?.p50Us)} (${s(cli?.maxUs)})`, status: judge(cli?.p50Us ?? Number.NaN, (v) => v < 2e6),
    },
    {
      variant: 'deploy', name: `${SCENARIO_LABEL.deploy}: through the API vs the runner by hand`, target: 'none, shown for comparison',
      measured: `${x(ratio(api?.p50Us, floor?.p50Us))} (${s(api?.p50Us)} vs ${s(floor?.p50Us)})`, status: api && floor ? 'INFO' : 'N/A',
    },
  ];
}

/** Squadron's durable-queue targets, then its rate against each durable peer that has a row. */
function durableChecks(rows: readonly Row[]): Check[] {
  const out: Check[] = [];
  const enq = findRow(rows, 'squadron', 'enqueue');
  const con = findRow(rows, 'squadron', 'consume');
  out.push({
    variant: 'durable', name: `${SCENARIO_LABEL.enqueue}: acknowledged enqueues/s`, target: '≥ 56,000/s',
    measured: `${int(enq?.rate)}/s`, status: judge(enq?.rate ?? Number.NaN, (v) => v >= 56_000),
  });
  out.push({
    variant: 'durable', name: `${SCENARIO_LABEL.consume}: acknowledged consumes/s`, target: '≥ 85,000/s',
    measured: `${int(con?.rate)}/s`, status: judge(con?.rate ?? Number.NaN, (v) => v >= 85_000),
  });
  out.push({
    variant: 'durable', name: `${SCENARIO_LABEL.enqueue}: ack p99`, target: '≤ 5.00 ms',
    measured: enq?.p99Us === undefined ? '—' : `${(enq.p99Us / 1000).toFixed(2)} ms`,
    status: judge(enq?.p99Us ?? Number.NaN, (v) => v <= 5000),
  });
  const mem = rows.find((r) => r.system === 'squadron' && r.scenario === 'memory');
  if (mem) {
    out.push({
      variant: 'durable', name: `${SCENARIO_LABEL.memory}: broker peak RSS`, target: '< 200 MB',
      measured: mem.rssPeakBytes === undefined ? `— (${mem.status}${mem.reason ? `: ${mem.reason}` : ''})` : `${(mem.rssPeakBytes / 1048576).toFixed(0)} MB`,
      status: judge(mem.rssPeakBytes ?? Number.NaN, (v) => v < 200 * 1048576),
    });
  }
  for (const scenario of DURABLE_SCENARIOS) {
    const sq = findRow(rows, 'squadron', scenario);
    for (const peer of DURABLE_PEERS) {
      const any = rows.find((r) => r.system === peer && r.scenario === scenario);
      if (!any) continue;
      const equal = any.syncedBeforeAck === true;
      const p = findRow(rows, peer, scenario);
      const r = ratio(sq?.rate, p?.rate);
      out.push({
        variant: 'durable',
        name: `${SCENARIO_LABEL[scenario]}: rate vs ${SYSTEM_LABEL[peer]} (${any.durability ?? '?'}; ${equal ? 'equal durability' : 'NOT equal durability: the peer acks before any fsync'})`,
        target: 'none, shown for comparison',
        measured: p ? `${x(r)} (${int(sq?.rate)} vs ${int(p.rate)}/s)` : `no row: ${any.status} ${(any.reason ?? '').split('\n')[0]}`,
        status: p && Number.isFinite(r) ? 'INFO' : 'N/A',
      });
    }
  }
  return out;
}

/** One line per durable system that has a row: what its ack guarantees. */
function durabilityText(rows: readonly Row[]): string {
  const seen = new Set<SystemId>();
  const lines: string[] = [];
  for (const r of rows) {
    if (r.durability === undefined || seen.has(r.system)) continue;
    seen.add(r.system);
    lines.push(`- ${SYSTEM_LABEL[r.system]}: ${r.durability}${r.syncedBeforeAck ? '' : ' (NOT synced before the ack)'}. ${DURABILITY[r.system]?.detail ?? ''}`.trimEnd());
  }
  return lines.join('\n');
}

export function checksText(list: readonly Check[]): string {
  return list.map((c) => `${c.status.padEnd(4)}  [${c.variant}] ${c.name}: ${c.measured}, target ${c.target}`).join('\n');
}

export function render(meta: Meta, rows: readonly Row[], list: readonly Check[]): string {
  const durability = durabilityText(rows);
  return [
    `# Squadron benchmark — ${meta.date}`,
    '',
    `cores (nproc): ${meta.cores} · cpu: ${meta.cpu} · node ${meta.node} · ${meta.platform}`,
    `${meta.calls.toLocaleString('en-US')} measured calls per row (pub/sub: 5x the messages; durable: enqueues, then consumes) after ${meta.warmup.toLocaleString('en-US')} warm-up (pub/sub and durable: 10x) · median of ${meta.rounds} interleaved rounds · payload ${meta.payloadBytes} bytes · client and server in separate processes`
      + (meta.only ? ` · BENCH_ONLY=${meta.only.join(',')}` : '') + ` · took ${meta.totalSeconds.toFixed(0)} s`,
    '',
    table(rows),
    '',
    ...(durability ? [`Durability of the durable rows (${DURABLE_IN_FLIGHT} enqueues in flight, then one consumer drains them with at most ${DURABLE_IN_FLIGHT} unacked, acking each):`, '', durability, ''] : []),
    'Targets (request-reply peers = nats.js and Moleculer; the raw socket is the floor, not a peer. Durable peers = JetStream and Redis Streams, compared at equal durability):',
    '',
    '```',
    checksText(list),
    '```',
    '',
  ].join('\n');
}

/** latest.{md,json} plus a timestamped copy of each. */
export async function writeResults(dir: string, meta: Meta, rows: readonly Row[], list: readonly Check[], text: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const stamp = meta.date.replace(/[:.]/g, '-');
  const json = `${JSON.stringify({ meta, rows, checks: list }, null, 2)}\n`;
  const files = [join(dir, 'latest.md'), join(dir, 'latest.json'), join(dir, `${stamp}.md`), join(dir, `${stamp}.json`)];
  await Promise.all(files.map((f) => writeFile(f, f.endsWith('.md') ? text : json)));
  return files;
}
