/**
 * users — squad "identity".
 *
 * The organisation's listeners. State is in memory for now (durable storage comes later), so
 * run ONE instance: two would each hand out their own ids.
 *
 * Methods: create({name}), get({id}) (idempotent).
 * Publishes: user.created {id, name, createdAt}, durably (kept for durable subscribers).
 * Calls nothing.
 */
import { defineService, BadRequestError } from '@squadron/sdk';

export interface User {
  id: string;
  name: string;
  createdAt: number;
}

const MAX_NAME = 100;

const users = new Map<string, User>();
let nextId = 1;

function field(req: unknown, name: string): unknown {
  return typeof req === 'object' && req !== null ? (req as Record<string, unknown>)[name] : undefined;
}

export default defineService({
  name: 'users',
  publishes: ['user.created'],
  methods: {
    /** Create a listener. Ids are u1, u2, … in order of creation. */
    create: async (req: unknown, ctx): Promise<User> => {
      const raw = field(req, 'name');
      const name = typeof raw === 'string' ? raw.trim() : '';
      if (name.length === 0 || name.length > MAX_NAME) {
        throw new BadRequestError(`'name' must be a non-empty string of at most ${MAX_NAME} characters`);
      }
      const user: User = { id: `u${nextId++}`, name, createdAt: Date.now() };
      // Durable: a welcome must not be lost while notifications is down. Published before the
      // user is kept, so that a failed publish leaves nothing half-made.
      await ctx.publish('user.created', user, { durable: true, id: `user.created:${user.id}` });
      users.set(user.id, user);
      ctx.log.info({ user: user.id }, 'user created');
      return user;
    },

    /** One listener by id; BAD_REQUEST when there is none. */
    get: {
      idempotent: true,
      handler: (req: unknown): User => {
        const id = field(req, 'id');
        if (typeof id !== 'string' || id.length === 0) throw new BadRequestError("'id' must be a non-empty string");
        const user = users.get(id);
        if (!user) throw new BadRequestError(`no user '${id}'`);
        return user;
      },
    },
  },
});
