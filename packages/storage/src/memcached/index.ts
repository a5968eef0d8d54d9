export { MemcachedProvisioner } from './provisioner.ts';
export type { MemcachedOptions, MemcachedCredentials } from './provisioner.ts';
export type { MemcachedState, MemcachedServerState } from './leftovers.ts';
export { MemcachedClient } from './client.ts';
export type { MemcachedClientOptions, SetOptions } from './client.ts';
export { HashRing, DEFAULT_VIRTUAL_NODES } from './hash-ring.ts';
export { findMemcached } from './binary.ts';
export { memcachedCommand, parseStats } from './text-protocol.ts';
export type { RestartPolicy } from './server-process.ts';
