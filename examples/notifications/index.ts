/**
 * notifications — squad "engagement".
 *
 * A bounded inbox per listener, fed only by events: it calls nobody and nobody has to call it
 * to get a notification delivered. State is in memory for now, so run ONE instance (the
 * instances of a service share each subscription: two would each get half of the events).
 *
 * Consumes: user.created, playlist.created, artist.followed.
 * Methods:  inbox({user, limit?}) (idempotent).
 *
 * Events are at most once, and the platform's admin may publish any (`squadron publish`), so a malformed event is
 * logged and dropped, never thrown on.
 */
import { defineService, BadRequestError, type MessageContext } from '@squadron/sdk';

export interface Notification {
  id: string;
  /** The event that caused it: 'user.created', 'playlist.created' or 'artist.followed'. */
  kind: string;
  text: string;
  /** What it is about (a user, playlist or artist id). */
  ref: string;
  at: number;
  traceId: string;
}

/** Newest kept per listener; older ones fall off. */
const MAX_PER_USER = 50;
/** Listeners with an inbox; beyond it, the inbox written to least recently goes. */
const MAX_USERS = 10_000;
const MAX_LIMIT = 50;

const inboxes = new Map<string, Notification[]>();
let nextId = 1;

function str(msg: unknown, name: string): string | null {
  const v = typeof msg === 'object' && msg !== null ? (msg as Record<string, unknown>)[name] : undefined;
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function deliver(ctx: MessageContext, user: string, ref: string, text: string): void {
  let inbox = inboxes.get(user);
  if (inbox) inboxes.delete(user); // re-inserted below: Map order is least recently written first
  else inbox = [];
  inbox.push({ id: `n${nextId++}`, kind: ctx.topic, text, ref, at: Date.now(), traceId: ctx.traceId });
  if (inbox.length > MAX_PER_USER) inbox.splice(0, inbox.length - MAX_PER_USER);
  inboxes.set(user, inbox);
  if (inboxes.size > MAX_USERS) {
    const oldest = inboxes.keys().next();
    if (!oldest.done) inboxes.delete(oldest.value);
  }
}

function malformed(ctx: MessageContext, msg: unknown): void {
  ctx.log.warn({ topic: ctx.topic, event: msg }, 'malformed event dropped');
}

export default defineService({
  name: 'notifications',
  subscriptions: {
    // Durable: welcomes published while this service is down are delivered when it is back.
    'user.created': {
      durable: true,
      handler: (msg, ctx) => {
        const id = str(msg, 'id');
        const name = str(msg, 'name');
        if (!id || !name) return malformed(ctx, msg);
        deliver(ctx, id, id, `Welcome, ${name}! Start a playlist or follow an artist.`);
      },
    },
    'playlist.created': (msg, ctx) => {
      const id = str(msg, 'id');
      const owner = str(msg, 'owner');
      const title = str(msg, 'title');
      if (!id || !owner || !title) return malformed(ctx, msg);
      deliver(ctx, owner, id, `Your playlist '${title}' is ready.`);
    },
    'artist.followed': (msg, ctx) => {
      const user = str(msg, 'user');
      const artist = str(msg, 'artist');
      if (!user || !artist) return malformed(ctx, msg);
      deliver(ctx, user, artist, `You now follow ${str(msg, 'artistName') ?? artist}.`);
    },
  },
  methods: {
    /** A listener's notifications, newest first. */
    inbox: {
      idempotent: true,
      handler: (req: unknown): { user: string; items: Notification[] } => {
        const user = str(req, 'user');
        if (!user) throw new BadRequestError("'user' must be a non-empty string");
        const limit = (typeof req === 'object' && req !== null ? (req as Record<string, unknown>).limit : null) ?? 20;
        if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
          throw new BadRequestError(`'limit' must be an integer from 1 to ${MAX_LIMIT}`);
        }
        const items = (inboxes.get(user) ?? []).slice(-limit).reverse();
        return { user, items };
      },
    },
  },
});
