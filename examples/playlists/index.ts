/**
 * playlists — squad "collections".
 *
 * Listeners' playlists. State is in memory for now (durable storage comes later), so run ONE
 * instance.
 *
 * Methods: create({owner, title, tracks?}), addTrack({playlistId, trackId}),
 *          get({id}) (idempotent), list({owner}) (idempotent).
 * Calls:   users.get (the owner must exist), catalog.track (every track must exist).
 * Publishes: playlist.created, playlist.updated — both carry the whole PlaylistEvent.
 *
 * Every check, remote ones included, happens before anything is written: a request that fails
 * leaves no playlist behind, changes no playlist and publishes nothing. Records are replaced,
 * never mutated, so a reply or an event never sees a half-made change.
 */
import { defineService, BadRequestError, SquadronError, ErrorCode, type Context } from '@squadron/sdk';

export interface Playlist {
  id: string;
  owner: string;
  title: string;
  tracks: string[];
  /** 1 on creation, +1 on every change: lets consumers of the events drop stale ones. */
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What playlist.created and playlist.updated carry. */
export type PlaylistEvent = Pick<Playlist, 'id' | 'owner' | 'title' | 'tracks' | 'version' | 'updatedAt'>;

const MAX_TITLE = 120;
const MAX_TRACKS = 500;
const MAX_PLAYLISTS_PER_OWNER = 200;
/** Budget for one downstream lookup (the caller's remaining deadline caps it too). */
const LOOKUP_TIMEOUT_MS = 1000;

const playlists = new Map<string, Playlist>();
const byOwner = new Map<string, string[]>();
let nextId = 1;

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

function requirePlaylist(id: string): Playlist {
  const playlist = playlists.get(id);
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

      // Checked after the awaits: other requests for this owner may have run meanwhile.
      const owned = byOwner.get(owner) ?? [];
      if (owned.length >= MAX_PLAYLISTS_PER_OWNER) throw new BadRequestError(`'${owner}' already has ${MAX_PLAYLISTS_PER_OWNER} playlists`);
      const now = Date.now();
      const playlist: Playlist = { id: `p${nextId++}`, owner, title, tracks: [...tracks], version: 1, createdAt: now, updatedAt: now };
      playlists.set(playlist.id, playlist);
      byOwner.set(owner, [...owned, playlist.id]);
      ctx.publish('playlist.created', toEvent(playlist));
      ctx.log.info({ playlist: playlist.id, owner }, 'playlist created');
      return playlist;
    },

    /** Append a track that exists in the catalog. Not idempotent: a retry would add it twice. */
    addTrack: async (req: unknown, ctx): Promise<Playlist> => {
      const playlistId = requireString(req, 'playlistId', 64);
      const trackId = requireString(req, 'trackId', 64);
      requirePlaylist(playlistId);
      await requireTracks(ctx, [trackId]);

      // Re-read: another addTrack may have replaced the record while we waited on the catalog.
      const current = requirePlaylist(playlistId);
      if (current.tracks.length >= MAX_TRACKS) throw new BadRequestError(`playlist '${playlistId}' is full (${MAX_TRACKS} tracks)`);
      const next: Playlist = { ...current, tracks: [...current.tracks, trackId], version: current.version + 1, updatedAt: Date.now() };
      playlists.set(next.id, next);
      ctx.publish('playlist.updated', toEvent(next));
      return next;
    },

    get: {
      idempotent: true,
      handler: (req: unknown): Playlist => requirePlaylist(requireString(req, 'id', 64)),
    },

    /** An owner's playlists, oldest first (an owner without any gets an empty list). */
    list: {
      idempotent: true,
      handler: (req: unknown): { owner: string; playlists: Playlist[] } => {
        const owner = requireString(req, 'owner', 64);
        const ids = byOwner.get(owner) ?? [];
        return { owner, playlists: ids.map((id) => playlists.get(id)).filter((p): p is Playlist => p !== undefined) };
      },
    },
  },
});
