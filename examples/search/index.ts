/**
 * search — squad "discovery".
 *
 * One search box over everything: tracks and artists come from catalog.search (asked on every
 * query), playlists from this service's own index, built from playlist events. The index is in
 * memory for now, so run ONE instance (instances share each subscription: two would each index
 * half of the playlists).
 *
 * Consumes: playlist.created, playlist.updated.
 * Methods:  query({q, limit?}) (idempotent).
 * Calls:    catalog.search. When the catalog cannot answer in time, the reply still carries the
 *           playlists, with `partial: true`, rather than failing the whole search.
 */
import { defineService, BadRequestError, SquadronError, ErrorCode, type MessageContext } from '@squadron/sdk';

interface IndexedPlaylist {
  id: string;
  owner: string;
  title: string;
  tracks: string[];
  version: number;
}

interface CatalogResults {
  tracks: Array<{ id: string; title: string; artistId: string; artist: string; durationSec: number }>;
  artists: Array<{ id: string; name: string; genre: string }>;
}

export interface QueryResult extends CatalogResults {
  q: string;
  playlists: IndexedPlaylist[];
  /** True when the catalog's part is missing (it failed or ran out of time). */
  partial: boolean;
}

const MAX_QUERY = 200;
const MAX_LIMIT = 50;
const MAX_INDEXED = 100_000;
const CATALOG_TIMEOUT_MS = 800;

const index = new Map<string, IndexedPlaylist>();

function asPlaylist(msg: unknown): IndexedPlaylist | null {
  if (typeof msg !== 'object' || msg === null) return null;
  const { id, owner, title, tracks, version } = msg as Record<string, unknown>;
  if (typeof id !== 'string' || typeof owner !== 'string' || typeof title !== 'string') return null;
  if (typeof version !== 'number' || !Array.isArray(tracks) || !tracks.every((t) => typeof t === 'string')) return null;
  return { id, owner, title, tracks: tracks as string[], version };
}

/** Keep the newest version of each playlist; an older or repeated event changes nothing. */
function indexPlaylist(msg: unknown, ctx: MessageContext): void {
  const playlist = asPlaylist(msg);
  if (!playlist) {
    ctx.log.warn({ topic: ctx.topic, event: msg }, 'malformed playlist event dropped');
    return;
  }
  const current = index.get(playlist.id);
  if (current && current.version >= playlist.version) return;
  if (!current && index.size >= MAX_INDEXED) {
    ctx.log.warn({ playlist: playlist.id }, 'playlist index full; not indexed');
    return;
  }
  index.set(playlist.id, playlist);
}

export default defineService({
  name: 'search',
  subscriptions: {
    'playlist.created': indexPlaylist,
    'playlist.updated': indexPlaylist,
  },
  methods: {
    query: {
      idempotent: true,
      handler: async (req: unknown, ctx): Promise<QueryResult> => {
        const fields = typeof req === 'object' && req !== null ? (req as Record<string, unknown>) : {};
        const q = typeof fields.q === 'string' ? fields.q.trim() : '';
        if (q.length === 0 || q.length > MAX_QUERY) throw new BadRequestError(`'q' must be a non-empty string of at most ${MAX_QUERY} characters`);
        const limit = fields.limit ?? 10;
        if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
          throw new BadRequestError(`'limit' must be an integer from 1 to ${MAX_LIMIT}`);
        }

        // Ask the catalog first and match playlists while it answers.
        const fromCatalog = ctx.call<CatalogResults>('catalog', 'search', { q, limit }, { timeoutMs: CATALOG_TIMEOUT_MS });
        const needle = q.toLowerCase();
        const playlists: IndexedPlaylist[] = [];
        for (const p of index.values()) {
          if (p.title.toLowerCase().includes(needle)) playlists.push(p);
          if (playlists.length >= limit) break;
        }

        try {
          const { tracks, artists } = await fromCatalog;
          return { q, tracks, artists, playlists, partial: false };
        } catch (err) {
          // Our own validation matches the catalog's, so its BAD_REQUEST would be a bug worth surfacing.
          if (err instanceof SquadronError && err.code === ErrorCode.BAD_REQUEST) throw err;
          ctx.log.warn({ err }, 'catalog search failed; answering with playlists only');
          return { q, tracks: [], artists: [], playlists, partial: true };
        }
      },
    },
  },
});
