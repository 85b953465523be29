import type { Database } from "./database.ts";

/**
 * The Database object that serves a room. Self-hosted, each process has its
 * own objects, so one shard (the default) is one service per process. On
 * Cloudflare one object would be a single thread for the whole deployment:
 * DATABASE_SHARDS spreads rooms over that many objects by a hash of the id.
 */
export function databaseFor(env: Env, shards: number, key = ""): DurableObjectStub<Database> {
  const shard = shards <= 1 ? 0 : fnv1a(key) % shards;
  return env.DATABASE.get(env.DATABASE.idFromName(`database-${shard}`));
}

/** FNV-1a, 32 bits: a stable spread of room ids over shards. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
