// What each durable system's ack means for the disk, and the load the durable rows run at.
// Shared by the suites that produce the rows and the report that prints them.
import type { SystemId } from './row.ts';

/** Acknowledged enqueues kept outstanding by the producer; also the consumer's unacked cap. */
export const DURABLE_IN_FLIGHT = 256;

/** How each system's ack relates to the disk: shown in every row's note and under the table. */
export const DURABILITY: Partial<Record<SystemId, { short: string; synced: boolean; detail: string }>> = {
  squadron: {
    short: 'fsync before ack (group commit)',
    synced: true,
    detail: 'Squadron broker with --data-dir: an enqueue is acknowledged after its record is written and fdatasync\'ed (the enqueues that arrive during one sync share the next: group commit). Consumer acks are appended to the log without waiting for a sync (a lost ack means a redelivery).',
  },
  jetstream: {
    short: 'fsync every 2 min (server default), not before the ack',
    synced: false,
    detail: 'JetStream, file storage, on the machine\'s shared nats-server with its defaults: a publish is acknowledged once written to the OS, and the server fsyncs file storage every 2 minutes (sync_interval), so an OS crash or power loss can lose acknowledged messages. Not the same durability as the others: its ratio is shown, not judged.',
  },
  'jetstream-sync': {
    short: 'fsync always (sync_interval: always)',
    synced: true,
    detail: 'JetStream, file storage, on a private nats-server started for the row with `jetstream { sync_interval: always }`: every write is synced before the ack.',
  },
  redis: {
    short: 'appendfsync always',
    synced: true,
    detail: 'Redis Streams on a private redis-server (`--appendonly yes --appendfsync always --save \'\'`): every write command, XADD, XREADGROUP (its pending-entries list) and XACK alike, is in the fsync\'ed AOF before its reply; one fsync per event-loop turn.',
  },
};
