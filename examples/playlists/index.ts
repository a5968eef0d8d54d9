/**
 * playlists — squad "collections".
 *
 * Listeners' playlists, kept in this service's PostgreSQL (storage `playlists`: the primary in
 * sto, a synchronous standby in gcp-eu; see store.ts). Any number of instances, in any site: they
 * all write to the primary, wherever it is after a failover.
 *
 * Methods: create({owner, title, tracks?}), addTrack({playlistId, trackId}),
 *          get({id}) (idempotent), list({owner}) (idempotent).
 * Calls:   users.get (the owner must exist), catalog.track (every track must exist).
 * Publishes: playlist.created, playlist.updated — both carry the whole PlaylistEvent.
 *
 * Every check, remote ones included, happens before anything is written: a request that fails
 * leaves no playlist behind, changes no playlist and publishes nothing. A change is one statement
 * at the version read after the checks, so a reply or an event never sees a half-made change.
 */
import { defineService, BadRequestError, SquadronError, ErrorCode, type Context } from '@squadron/sdk';
import { PlaylistStore, type Playlist } from './store.ts';

export type { Playlist } from './store.ts';

/** What playlist.created and playlist.updated carry. */
export type PlaylistEvent = Pick<Playlist, 'id' | 'owner' | 'title' | 'tracks' | 'version' | 'updatedAt'>;

const MAX_TITLE = 120;
const MAX_TRACKS = 500;
const MAX_PLAYLISTS_PER_OWNER = 200;
/** Budget for one downstream lookup (the caller's remaining deadline caps it too). */
const LOOKUP_TIMEOUT_MS = 1000;

function field(req: unknown, name: string): unknown {
  return typeof req === 'object' && req !== null ? (req as Record<string, unknown>)[name] : undefined;
}

function requireString(req: unknown, name: string, max: number): string {
  const raw = field(req, name);
  const value = typeof raw === 'string' ? raw.trim() : '';
  if (value.length === 0 || value.length > max) throw new BadRequestError(`'${name}' must be a non-empty string of at most ${max} characters`);
  return value;
}

function isBadRequest(err: unknown): boolean {
  return err instanceof SquadronError && err.code === ErrorCode.BAD_REQUEST;
}

/** The owner must be a known user. Other failures (users down, timeout) propagate as they are. */
async function requireUser(ctx: Context, id: string): Promise<void> {
  try {
    await ctx.call('users', 'get', { id }, { timeoutMs: LOOKUP_TIMEOUT_MS });
  } catch (err) {
    if (isBadRequest(err)) throw new BadRequestError(`unknown owner '${id}'`);
    throw err;
  }
}

/** Every track must be in the catalog. Looked up in parallel, each distinct id once. */
async function requireTracks(ctx: Context, ids: readonly string[]): Promise<void> {
  await Promise.all([...new Set(ids)].map(async (id) => {
    try {
      await ctx.call('catalog', 'track', { id }, { timeoutMs: LOOKUP_TIMEOUT_MS });
    } catch (err) {
      if (isBadRequest(err)) throw new BadRequestError(`unknown track '${id}'`);
      throw err;
    }
  }));
}

async function requirePlaylist(store: PlaylistStore, id: string): Promise<Playlist> {
  const playlist = await store.get(id);
  if (!playlist) throw new BadRequestError(`no playlist '${id}'`);
  return playlist;
}

function toEvent(p: Playlist): PlaylistEvent {
  return { id: p.id, owner: p.owner, title: p.title, tracks: p.tracks, version: p.version, updatedAt: p.updatedAt };
}

export default defineService({
  name: 'playlists',
  publishes: ['playlist.created', 'playlist.updated'],
  methods: {
    /** Create a playlist, optionally with tracks. */
    create: async (req: unknown, ctx): Promise<Playlist> => {
      const owner = requireString(req, 'owner', 64);
      const title = requireString(req, 'title', MAX_TITLE);
      const rawTracks = field(req, 'tracks') ?? [];
      if (!Array.isArray(rawTracks) || rawTracks.length > MAX_TRACKS || !rawTracks.every((t) => typeof t === 'string' && t.length > 0)) {
        throw new BadRequestError(`'tracks' must be a list of at most ${MAX_TRACKS} track ids`);
      }
      const tracks = rawTracks as string[];
      await Promise.all([requireUser(ctx, owner), requireTracks(ctx, tracks)]);

      // The owner's count is checked at the insert: other requests for this owner may have run meanwhile.
      const store = await PlaylistStore.open(ctx);
      const playlist = await store.create({ owner, title, tracks: [...tracks] }, MAX_PLAYLISTS_PER_OWNER);
      ctx.publish('playlist.created', toEvent(playlist));
      ctx.log.info({ playlist: playlist.id, owner }, 'playlist created');
      return playlist;
    },

    /** Append a track that exists in the catalog. Not idempotent: a retry would add it twice. */
    addTrack: async (req: unknown, ctx): Promise<Playlist> => {
      const playlistId = requireString(req, 'playlistId', 64);
      const trackId = requireString(req, 'trackId', 64);
      const store = await PlaylistStore.open(ctx);
      await requirePlaylist(store, playlistId);
      await requireTracks(ctx, [trackId]);

      // Made at the version read after the catalog's answer: another addTrack may have run meanwhile.
      const next = await store.addTrack(playlistId, trackId, MAX_TRACKS);
      ctx.publish('playlist.updated', toEvent(next));
      return next;
    },

    get: {
      idempotent: true,
      handler: async (req: unknown, ctx): Promise<Playlist> => requirePlaylist(await PlaylistStore.open(ctx), requireString(req, 'id', 64)),
    },

    /** An owner's playlists, oldest first (an owner without any gets an empty list). */
    list: {
      idempotent: true,
      handler: async (req: unknown, ctx): Promise<{ owner: string; playlists: Playlist[] }> => {
        const owner = requireString(req, 'owner', 64);
        const store = await PlaylistStore.open(ctx);
        return { owner, playlists: await store.list(owner, MAX_PLAYLISTS_PER_OWNER) };
      },
    },
  },
});
