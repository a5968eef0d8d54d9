/**
 * users — squad "identity".
 *
 * The organisation's listeners, kept in the kv store `users` (storage of this service, in every
 * site it runs in): each site has a replica and takes writes, and a listener created through one
 * site is read through the others within a second. Any number of instances, in any site.
 *
 * Methods: create({name}), get({id}) (idempotent).
 * Publishes: user.created {id, name, createdAt}, durably (kept for durable subscribers).
 * Calls nothing.
 *
 * Keys: `user/<id>` holds a User; `next-id/<site>` counts the listeners created through that site.
 */
import { defineService, BadRequestError, HandlerError, type Context } from '@squadron/sdk';
import type { KvClient } from '@squadron/storage';

export interface User {
  /** `u<n>-<site>`: the n-th listener created through that site (u1-sto, u2-sto, u1-gcp-eu, …). */
  id: string;
  name: string;
  createdAt: number;
}

/** The kv store this service owns (examples/squads.yaml). */
const STORE = 'users';
const MAX_NAME = 100;
const MAX_ID = 64;
/** Creates in one site racing for the same number: beyond this many lost races, give up. */
const MAX_ID_ATTEMPTS = 20;

function field(req: unknown, name: string): unknown {
  return typeof req === 'object' && req !== null ? (req as Record<string, unknown>)[name] : undefined;
}

function isConflict(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'CONFLICT';
}

/**
 * The next id handed out through this site. Compare-and-set is exact only at the site written to
 * (docs/decisions/0011), so each site counts on a key of its own that only its instances write,
 * and the site is part of the id: two sites never hand out the same one. A lost answer to the
 * counter's write costs a number, never a duplicate.
 */
async function nextId(kv: KvClient, site: string): Promise<string> {
  const key = `next-id/${site}`;
  for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
    const current = await kv.get<number>(key);
    const n = (current?.value ?? 0) + 1;
    try {
      await kv.put(key, n, { ifVersion: current?.version ?? 0 });
      return `u${n}-${site}`;
    } catch (err) {
      // Another create in this site took n meanwhile: read the counter again.
      if (!isConflict(err)) throw err;
    }
  }
  throw new HandlerError(`too many listeners created at once in site ${site}; try again in a moment`, { retryable: true });
}

function store(ctx: Pick<Context, 'storage'>): Promise<KvClient> {
  return ctx.storage<KvClient>(STORE);
}

export default defineService({
  name: 'users',
  publishes: ['user.created'],
  methods: {
    /** Create a listener. Not idempotent: a retry would create a second one. */
    create: async (req: unknown, ctx): Promise<User> => {
      const raw = field(req, 'name');
      const name = typeof raw === 'string' ? raw.trim() : '';
      if (name.length === 0 || name.length > MAX_NAME) {
        throw new BadRequestError(`'name' must be a non-empty string of at most ${MAX_NAME} characters`);
      }
      const kv = await store(ctx);
      const user: User = { id: await nextId(kv, ctx.site), name, createdAt: Date.now() };
      // Durable: a welcome must not be lost while notifications is down. Published before the
      // user is kept, so that a failed publish leaves nothing half-made.
      await ctx.publish('user.created', user, { durable: true, id: `user.created:${user.id}` });
      // ifVersion 0: the id is new, so this never overwrites a listener.
      await kv.put(`user/${user.id}`, user, { ifVersion: 0 });
      ctx.log.info({ user: user.id }, 'user created');
      return user;
    },

    /** One listener by id, from this site's replica; BAD_REQUEST when there is none. */
    get: {
      idempotent: true,
      handler: async (req: unknown, ctx): Promise<User> => {
        const id = field(req, 'id');
        if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID) {
          throw new BadRequestError(`'id' must be a non-empty string of at most ${MAX_ID} characters`);
        }
        const entry = await (await store(ctx)).get<User>(`user/${id}`);
        if (!entry) throw new BadRequestError(`no user '${id}'`);
        return entry.value;
      },
    },
  },
});
