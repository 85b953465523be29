// Rooms spread over several server processes the way nginx's
// `hash $roomcast_room consistent` does (deploy/nginx/roomcast.conf): the
// ketama ring of ngx_http_upstream_hash.c, 160 points per server, each point
// crc32(host "\0" port previous-point), the key's crc32 looked up clockwise.
// With the same server list, a room lands on the process nginx would pick.
import { crc32 } from "node:zlib";

/** A server process the load test talks to. */
export interface Target {
  /** http://host:port, no trailing slash. */
  base: string;
  /** ws://host:port */
  ws: string;
}

/** Parses a base URL (http or https). */
export function parseTarget(url: string): Target {
  const parsed = new URL(url);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error(`target ${url}: use http:// or https://`);
  const base = `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, "")}`;
  return { base, ws: base.replace(/^http/, "ws") };
}

const POINTS_PER_SERVER = 160;

/** A consistent-hash ring over targets. */
export class HashRing {
  readonly #points: { hash: number; target: Target }[] = [];

  constructor(targets: readonly Target[]) {
    for (const target of targets) {
      const { hostname, port } = new URL(target.base);
      const host = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
      const base = Buffer.concat([
        Buffer.from(host),
        Buffer.from([0]),
        Buffer.from(port || (target.base.startsWith("https") ? "443" : "80")),
      ]);
      let previous = 0;
      for (let j = 0; j < POINTS_PER_SERVER; j += 1) {
        const prev = Buffer.alloc(4);
        prev.writeUInt32LE(previous);
        const hash = crc32(prev, crc32(base));
        this.#points.push({ hash, target });
        previous = hash;
      }
    }
    this.#points.sort((a, b) => a.hash - b.hash);
  }

  /** The target a key (room id) belongs to. */
  pick(key: string): Target {
    const hash = crc32(key);
    const points = this.#points;
    let low = 0;
    let high = points.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((points[mid]?.hash ?? 0) < hash) low = mid + 1;
      else high = mid;
    }
    const point = points[low % points.length];
    if (!point) throw new Error("hash ring has no targets");
    return point.target;
  }
}
