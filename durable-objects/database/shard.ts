import { fnv1a } from "../../core/hash.ts";
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
