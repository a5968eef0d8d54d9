import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { validateConfig, loadConfig, ConfigError, DEFAULT_CONFIG } from '@squadron/control';
import type { StatusBody, ErrorBody } from '@squadron/client';
import { runService, defineService, type RunningService } from '@squadron/sdk';
import { startSites, silent, type TestSites } from '@squadron/testkit';
import { startControl, type TestControl } from './harness.ts';

describe('control plane API', () => {
  let brokers: TestSites;
  let control: TestControl;
  let app: FastifyInstance;
  let instance: RunningService;
  const get = (url: string) => app.inject({ url, headers: control.as(control.adminToken) });

  before(async () => {
    brokers = await startSites(['sto', 'gcp-eu']);
    control = await startControl('sqlite', 'api', { sites: [{ name: 'sto', kind: 'datacenter' }, { name: 'gcp-eu', kind: 'cloud' }, { name: 'aws-us', kind: 'cloud' }] });
    app = control.app;
    control.sites.setBroker('sto', brokers.address('sto'));
    control.sites.setBroker('gcp-eu', brokers.address('gcp-eu'));
    instance = await runService(defineService({ name: 'ping', methods: { ping: () => 'pong' } }), { site: 'gcp-eu', broker: brokers.address('gcp-eu'), logger: silent });
  });

  after(async () => {
    await control.close();
    await instance.stop();
    await brokers.stop();
  });

  it('answers health and lists the sites in order, with their brokers', async () => {
    assert.equal((await app.inject('/v1/health')).json().status, 'ok'); // the one route that needs no token
    const { sites } = (await get('/v1/sites')).json() as { sites: Array<{ name: string; broker: unknown }> };
    assert.deepEqual(sites.map((s) => s.name), ['sto', 'gcp-eu', 'aws-us']);
    assert.deepEqual(sites[0]!.broker, { address: brokers.address('sto') });
    assert.equal(sites[2]!.broker, null);
  });

  it('shows each site\'s instances from its own broker, and a site without one as down', async () => {
    const status = (await get('/v1/status')).json() as StatusBody;
    assert.deepEqual(status.services.map((s) => [s.name, s.instances.map((i) => i.site)]), [['ping', ['gcp-eu']]]);
    assert.equal(status.services[0]!.instances[0]!.id, instance.info.id);
    const down = status.sites.find((s) => s.name === 'aws-us')!;
    assert.equal(down.brokerStatus.up, false);
    assert.match(down.brokerStatus.error ?? '', /no broker/);
    assert.deepEqual(status.sites.find((s) => s.name === 'sto')!.brokerStatus.peers.map((p) => p.site), ['gcp-eu']);
  });

  it('answers unknown routes and undecodable URLs with the one JSON error body', async () => {
    const missing = await get('/v1/nothing');
    assert.equal(missing.statusCode, 404);
    assert.equal((missing.json() as ErrorBody).error.code, 'NOT_FOUND');
    const bad = await get('/v1/sites/%zz');
    assert.equal(bad.statusCode, 400);
    assert.equal((bad.json() as ErrorBody).error.code, 'BAD_REQUEST');
  });
});

describe('platform config', () => {
  it('names the field that is wrong', () => {
    assert.throws(() => validateConfig({ sites: [] }), ConfigError);
    assert.throws(() => validateConfig({ sites: [{ name: 'Bad Name', kind: 'cloud' }] }), /sites\[0\]\.name/);
    assert.throws(() => validateConfig({ sites: [{ name: 'a', kind: 'moon' }] }), /sites\[0\]\.kind/);
    assert.throws(() => validateConfig({ sites: [{ name: 'a', kind: 'cloud' }, { name: 'a', kind: 'cloud' }] }), /listed twice/);
    assert.throws(() => validateConfig({ sites: [{ name: 'a', kind: 'cloud' }], api: { port: 70000 } }), /api\.port/);
    const site = [{ name: 'a', kind: 'cloud' }];
    assert.throws(() => validateConfig({ sites: site, rateLimits: { default: 'lots' } }), /rateLimits\.default: rate 'lots' is not a rate/);
    assert.throws(() => validateConfig({ sites: site, rateLimits: { burst: 0 } }), /rateLimits\.burst/);
    assert.throws(() => validateConfig({ sites: site, credentialTtlSeconds: 1 }), /credentialTtlSeconds/);
    assert.throws(() => validateConfig({ sites: site, storage: { postgres: { server: 'mysql://x' } } }), /storage\.postgres\.server/);
  });

  it('reads rate limits, credential lifetime and an existing PostgreSQL server, with defaults', () => {
    const site = [{ name: 'a', kind: 'cloud' }];
    const defaults = validateConfig({ sites: site });
    assert.deepEqual([defaults.defaultRate, defaults.credentialTtlMs, defaults.postgresServer], [{ ratePerSecond: 50, burst: 100 }, 3_600_000, null]);
    const set = validateConfig({ sites: site, rateLimits: { default: '600/m' }, credentialTtlSeconds: 60, storage: { postgres: { server: 'postgres://admin@db:5432/postgres' } } });
    assert.deepEqual([set.defaultRate, set.credentialTtlMs, set.postgresServer], [{ ratePerSecond: 10, burst: 20 }, 60_000, 'postgres://admin@db:5432/postgres']);
  });

  it('hands out a copy of the default that callers may change', () => {
    const mine = loadConfig();
    mine.api.port = 1;
    assert.equal(DEFAULT_CONFIG.api.port, 7700);
    assert.deepEqual(loadConfig().sites.map((s) => [s.name, s.kind]), [['sto', 'datacenter'], ['gcp-eu', 'cloud']]);
  });
});
