/**
 * follow — squad "social".
 *
 * Who follows which artist. State is in memory for now (durable storage comes later), so run
 * ONE instance.
 *
 * Methods: follow({user, artist}) (idempotent: following twice is a no-op),
 *          followers({artist}) (idempotent).
 * Calls:   users.get (the follower must exist), catalog.artist (the artist must exist).
 * Publishes: artist.followed {user, artist, artistName, at} — once per new follow.
 */
import { defineService, BadRequestError, SquadronError, ErrorCode, type Context } from '@squadron/sdk';

const LOOKUP_TIMEOUT_MS = 1000;
const MAX_FOLLOWERS_LISTED = 1000;

/** artist id → user ids, in order of following. */
const followersByArtist = new Map<string, Set<string>>();

function requireString(req: unknown, name: string): string {
  const raw = typeof req === 'object' && req !== null ? (req as Record<string, unknown>)[name] : undefined;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 64) throw new BadRequestError(`'${name}' must be a non-empty string`);
  return raw;
}

/** Run a lookup; a BAD_REQUEST from it means "no such thing" and becomes ours, worded for our caller. */
async function lookup<T>(ctx: Context, service: string, method: string, id: string, what: string): Promise<T> {
  try {
    return await ctx.call<T>(service, method, { id }, { timeoutMs: LOOKUP_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof SquadronError && err.code === ErrorCode.BAD_REQUEST) throw new BadRequestError(`unknown ${what} '${id}'`);
    throw err;
  }
}

export default defineService({
  name: 'follow',
  publishes: ['artist.followed'],
  methods: {
    follow: {
      // Safe to run twice: the second run finds the follow in place and publishes nothing.
      idempotent: true,
      handler: async (req: unknown, ctx): Promise<{ user: string; artist: string; created: boolean }> => {
        const user = requireString(req, 'user');
        const artist = requireString(req, 'artist');
        const [, found] = await Promise.all([
          lookup(ctx, 'users', 'get', user, 'user'),
          lookup<{ name: string }>(ctx, 'catalog', 'artist', artist, 'artist'),
        ]);
        let followers = followersByArtist.get(artist);
        if (followers?.has(user)) return { user, artist, created: false };
        if (!followers) followersByArtist.set(artist, (followers = new Set()));
        followers.add(user);
        ctx.publish('artist.followed', { user, artist, artistName: found.name, at: Date.now() });
        return { user, artist, created: true };
      },
    },

    /** An artist's followers (the first 1000) and how many there are. */
    followers: {
      idempotent: true,
      handler: (req: unknown): { artist: string; count: number; users: string[] } => {
        const artist = requireString(req, 'artist');
        const followers = followersByArtist.get(artist) ?? new Set<string>();
        return { artist, count: followers.size, users: [...followers].slice(0, MAX_FOLLOWERS_LISTED) };
      },
    },
  },
});
