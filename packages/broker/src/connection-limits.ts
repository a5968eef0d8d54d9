import { QuotaExceededError } from '@squadron/protocol';

/**
 * What one connection may hold at a broker, so that no connection (a hostile one, or a buggy
 * loop) can grow the broker's memory without bound. Far above what a service needs: an
 * instance registers one instance, watches the registry once, and has a handful of
 * subscriptions and consumers.
 */
export interface ConnectionLimits {
  /** Subscriptions, plain and refused-and-parked together. Default 10,000. */
  subscriptions: number;
  /** Queue consumers, parked included. Default 1,000. */
  consumers: number;
  /** Registry watches. Default 8. */
  watches: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({ subscriptions: 10_000, consumers: 1_000, watches: 8 });

/** Refuse a connection's next subscription, consumer or watch past its limit. */
export function checkConnectionLimit(limits: ConnectionLimits, what: keyof ConnectionLimits, held: number): void {
  const max = limits[what];
  if (held < max) return;
  throw new QuotaExceededError(`a connection may hold at most ${max} ${what}, and this one holds ${held}: close some first`, `connection-${what}`, max, held);
}
