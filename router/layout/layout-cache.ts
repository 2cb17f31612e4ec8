/**
 * VTGate's shard layouts, cached per isolate: a statement routes by the cached layout with no
 * round trip to the keeper; an entry is read again after LAYOUT_TTL_MS, or at once when a tablet
 * refuses a stamp as stale (`minVersion`). Concurrent reads of one keyspace share one round trip,
 * and an older answer never replaces a newer layout.
 */
import type { ShardLayout } from './layout.js';

/** How long a cached layout is used before it is read again (a stale one is also caught by the tablets' fence). */
export const LAYOUT_TTL_MS = 10_000;

interface Entry {
  layout: ShardLayout;
  at: number;
}

const entries = new Map<string, Entry>();
const loading = new Map<string, Promise<ShardLayout>>();

/** The cached layout of `key` (the keyspace and the VSCHEMA shards it was seeded from), fresh or not. */
export const cachedLayout = (key: string): ShardLayout | undefined => entries.get(key)?.layout;

/**
 * The layout of `key`: the cached one while fresh and at least at `minVersion` (a tablet's fence,
 * after it refused a stamp), else one `read` shared by every caller that waits for it.
 */
export async function loadLayout(key: string, read: () => Promise<ShardLayout>, minVersion = 0, now = Date.now()): Promise<ShardLayout> {
  const hit = entries.get(key);
  if (hit && now - hit.at < LAYOUT_TTL_MS && hit.layout.version >= minVersion) return hit.layout;
  const shared = loading.get(key);
  if (shared) {
    const layout = await shared;
    if (layout.version >= minVersion) return layout;
  }
  return start(key, read);
}

function start(key: string, read: () => Promise<ShardLayout>): Promise<ShardLayout> {
  const p = read()
    .then((layout) => {
      const kept = entries.get(key);
      const newest = kept && kept.layout.version > layout.version ? kept.layout : layout;
      entries.set(key, { layout: newest, at: Date.now() });
      return newest;
    })
    .finally(() => {
      if (loading.get(key) === p) loading.delete(key);
    });
  loading.set(key, p);
  return p;
}
