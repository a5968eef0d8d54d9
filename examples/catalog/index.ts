/**
 * catalog — squad "catalog".
 *
 * The organisation's track and artist catalog. Here it is a fixed, in-memory set (no network,
 * no storage), so every instance holds the same data and any number of them, in any site, can
 * answer any call: every method is idempotent.
 *
 * Methods: track({id}), artist({id}), search({q, limit?}).
 * Calls nothing, publishes nothing.
 */
import { defineService, BadRequestError } from '@squadron/sdk';

export interface Artist {
  id: string;
  name: string;
  genre: string;
}

export interface Track {
  id: string;
  title: string;
  artistId: string;
  artist: string;
  durationSec: number;
}

const ARTISTS: readonly Artist[] = [
  { id: 'a1', name: 'Northern Static', genre: 'indie' },
  { id: 'a2', name: 'Lina Vale', genre: 'pop' },
  { id: 'a3', name: 'Copper Harbour', genre: 'folk' },
  { id: 'a4', name: 'Midnight Ferry', genre: 'synthwave' },
  { id: 'a5', name: 'Saga Lind', genre: 'jazz' },
  { id: 'a6', name: 'The Quiet Engines', genre: 'post-rock' },
  { id: 'a7', name: 'Rosa Mendel', genre: 'soul' },
  { id: 'a8', name: 'Glass Orchard', genre: 'dream pop' },
  { id: 'a9', name: 'Tundra Radio', genre: 'electronic' },
  { id: 'a10', name: 'Marlowe & the Tides', genre: 'americana' },
];

// [title, artist id, duration in seconds]; track ids are t1..t30 in this order.
const TRACK_ROWS: ReadonlyArray<readonly [string, string, number]> = [
  ['Open Road', 'a1', 214], ['Signal Fires', 'a1', 198], ['Static Hearts', 'a1', 241],
  ['Paper Planes at Dawn', 'a2', 187], ['Neon Lullaby', 'a2', 203], ['Say It Twice', 'a2', 176],
  ['Harbour Lights', 'a3', 232], ['Salt and Cedar', 'a3', 265], ['The Long Way Home', 'a3', 249],
  ['Night Crossing', 'a4', 301], ['Chrome Horizon', 'a4', 276], ['Last Ferry Out', 'a4', 254],
  ['Blue Hour', 'a5', 322], ['Winter Standard', 'a5', 288], ['Slow Snowfall', 'a5', 305],
  ['Engines at Rest', 'a6', 412], ['Cathedral of Pylons', 'a6', 498], ['Low Tide Signal', 'a6', 377],
  ['Sunday Velvet', 'a7', 219], ['Hold the Line', 'a7', 207], ['Gold in the Gutter', 'a7', 231],
  ['Orchard in Bloom', 'a8', 244], ['Glass Garden', 'a8', 268], ['Sleepwalker Road', 'a8', 256],
  ['Permafrost', 'a9', 335], ['Aurora Loop', 'a9', 290], ['Cold Start', 'a9', 262],
  ['Dust on the Dashboard', 'a10', 226], ['Riverbend Motel', 'a10', 239], ['Highway Psalm', 'a10', 251],
];

const artistsById = new Map(ARTISTS.map((a) => [a.id, a]));
const tracksById = new Map<string, Track>();
TRACK_ROWS.forEach(([title, artistId, durationSec], i) => {
  const artist = artistsById.get(artistId);
  if (!artist) throw new Error(`catalog data: track '${title}' names unknown artist '${artistId}'`);
  const id = `t${i + 1}`;
  tracksById.set(id, { id, title, artistId, artist: artist.name, durationSec });
});

const MAX_QUERY = 200;
const MAX_LIMIT = 50;

function field(req: unknown, name: string): unknown {
  return typeof req === 'object' && req !== null ? (req as Record<string, unknown>)[name] : undefined;
}

function requireId(req: unknown): string {
  const id = field(req, 'id');
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) throw new BadRequestError("'id' must be a non-empty string");
  return id;
}

export default defineService({
  name: 'catalog',
  methods: {
    /** One track by id; BAD_REQUEST when there is no such track. */
    track: {
      idempotent: true,
      handler: (req: unknown): Track => {
        const id = requireId(req);
        const track = tracksById.get(id);
        if (!track) throw new BadRequestError(`no track '${id}' in the catalog`);
        return track;
      },
    },

    /** One artist by id, with its track ids; BAD_REQUEST when there is no such artist. */
    artist: {
      idempotent: true,
      handler: (req: unknown): Artist & { trackIds: string[] } => {
        const id = requireId(req);
        const artist = artistsById.get(id);
        if (!artist) throw new BadRequestError(`no artist '${id}' in the catalog`);
        const trackIds = [...tracksById.values()].filter((t) => t.artistId === id).map((t) => t.id);
        return { ...artist, trackIds };
      },
    },

    /** Case-insensitive substring match on track titles and artist names. */
    search: {
      idempotent: true,
      handler: (req: unknown): { tracks: Track[]; artists: Artist[] } => {
        const q = field(req, 'q');
        if (typeof q !== 'string' || q.trim().length === 0 || q.length > MAX_QUERY) {
          throw new BadRequestError(`'q' must be a non-empty string of at most ${MAX_QUERY} characters`);
        }
        const rawLimit = field(req, 'limit') ?? 10;
        if (typeof rawLimit !== 'number' || !Number.isInteger(rawLimit) || rawLimit < 1 || rawLimit > MAX_LIMIT) {
          throw new BadRequestError(`'limit' must be an integer from 1 to ${MAX_LIMIT}`);
        }
        const needle = q.trim().toLowerCase();
        const tracks = [...tracksById.values()]
          .filter((t) => t.title.toLowerCase().includes(needle) || t.artist.toLowerCase().includes(needle))
          .slice(0, rawLimit);
        const artists = ARTISTS.filter((a) => a.name.toLowerCase().includes(needle)).slice(0, rawLimit);
        return { tracks, artists };
      },
    },
  },
});
