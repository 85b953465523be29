// Limits on opening room sockets, checked by the Worker before the upgrade
// reaches a room: upgrades per client address (UPGRADE_ADDRESS_LIMIT) and
// per user (UPGRADE_USER_LIMIT), token buckets in this isolate's memory, and
// open sockets per user (MAX_SOCKETS_PER_USER), from the isolate's socket
// counts (durable-objects/room/capacity.ts). Module state on purpose, like
// capacity.ts: a Map lookup and some arithmetic per upgrade, no call out.
// Self-hosted, one process runs one isolate, so the limits hold per
// process. On Cloudflare a client's upgrades spread over many isolates, so
// they are best effort there; the global layer is Cloudflare's own (the
// Rate Limiting binding, or WAF rate limiting rules): docs/decisions.md.
import type { Rate } from "../../core/config.ts";
import { KeyedBuckets, rateLimits } from "../../core/rate-limit.ts";
import { userSockets } from "../../durable-objects/room/capacity.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import { clientAddress } from "../client-address.ts";
import { configOf, type AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";

type UpgradeLimit = "upgrade_user" | "upgrade_address";

// The buckets of each limit at each rate, made on first use: one map per
// limit in practice (tests that change a rate get a map of their own).
const limits = new Map<string, KeyedBuckets>();

function bucketsOf(limit: UpgradeLimit, rate: Rate): KeyedBuckets {
  const name = `${limit} ${rate.limit}/${rate.windowMs}`;
  let buckets = limits.get(name);
  if (!buckets) {
    buckets = new KeyedBuckets(rateLimits(rate));
    limits.set(name, buckets);
  }
  return buckets;
}

/** Takes one upgrade from `key`'s bucket under `rate`; 429 `rate_limited` with `Retry-After` when it is empty. */
function spend(limit: UpgradeLimit, rate: Rate, key: string, message: string): void {
  const waitMs = bucketsOf(limit, rate).take(key, Date.now());
  if (waitMs === 0) return;
  metrics.rateLimited.inc({ limit });
  throw new ApiError("rate_limited", message, { "Retry-After": String(Math.ceil(waitMs / 1000)) });
}

/** Before authentication: one upgrade from the client's address, when the address is known. */
export function limitAddressUpgrades(c: AppContext): void {
  const rate = configOf(c).upgradeAddressLimit;
  const address = rate ? clientAddress(c) : undefined;
  if (rate && address !== undefined) spend("upgrade_address", rate, address, "too many WebSocket upgrades from this address; retry later");
}

/** After authentication: one upgrade of the user, and room for one more of the user's sockets. */
export function limitUserUpgrades(c: AppContext, userId: string): void {
  const config = configOf(c);
  if (config.upgradeUserLimit) spend("upgrade_user", config.upgradeUserLimit, userId, "too many WebSocket upgrades; retry later");
  if (config.maxSocketsPerUser > 0 && userSockets(userId) >= config.maxSocketsPerUser) {
    metrics.rateLimited.inc({ limit: "sockets_per_user" });
    throw new ApiError("rate_limited", `at most ${config.maxSocketsPerUser} open sockets per user; close one first`);
  }
}
