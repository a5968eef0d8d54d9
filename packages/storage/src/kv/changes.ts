import type { HlcStamp } from './hlc.ts';

/** What sites exchange: writes, and pages of a site's change log. */

/** A write as it travels between sites: what was written, where, and when in hybrid-logical time. */
export interface RemoteWrite {
  origin: string;
  hlc: HlcStamp;
  namespace: string;
  key: string;
  op: 'put' | 'delete';
  /** The value's JSON text (null for a delete). */
  value: string | null;
  expiresAt: number | null;
}

/** One entry of a site's change log: a write made at that site, numbered in order. */
export interface KvChange extends RemoteWrite {
  seq: number;
}

export interface ChangesPage {
  storeId: string;
  head: number;
  /** The log no longer holds every change after `since`: the puller must merge a snapshot. */
  truncated: boolean;
  changes: KvChange[];
}
