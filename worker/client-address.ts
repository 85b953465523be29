// The client's address, for the limits per address. It comes only from where
// a client cannot write it:
// - CLIENT_ADDRESS_HEADER set (X-Real-IP behind the shipped nginx site, which
//   overwrites the header with $remote_addr): that header, and nothing else;
// - unset, on Cloudflare: CF-Connecting-IP, which the edge overwrites. A
//   request counts as from Cloudflare's edge when it has `request.cf` and a
//   CF-Ray header: Miniflare (wrangler dev) also gives `request.cf`, and sets
//   CF-Connecting-IP from the socket only when the client did not send one,
//   but adds no CF-Ray; plain workerd gives neither;
// - otherwise unknown, and the limits per address do not apply.
import { configOf, type AppContext } from "./context.ts";

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

// Once per isolate, so that a deployment without a client address says so
// in its log without a line per request.
let warned = false;

/**
 * The client's address as the limits count it: an IPv4 address, or the /64
 * of an IPv6 address (`2001:db8:1:2::/64`: one host usually has a whole
 * /64); undefined when it is unknown.
 */
export function clientAddress(c: AppContext): string | undefined {
  const header = configOf(c).clientAddressHeader;
  const raw = header ? c.req.header(header) : fromCloudflare(c.req.raw);
  const address = raw === undefined ? undefined : addressKey(raw);
  if (address === undefined && !warned) {
    warned = true;
    console.warn(
      header
        ? `roomcast: a request without a valid ${header} header (CLIENT_ADDRESS_HEADER); limits per client address do not apply to it. Does every request come through the proxy that sets it?`
        : "roomcast: the client address is unknown (CLIENT_ADDRESS_HEADER is empty and the request did not come through Cloudflare); limits per client address do not apply. Behind nginx, set CLIENT_ADDRESS_HEADER=X-Real-IP.",
    );
  }
  return address;
}

function fromCloudflare(request: Request): string | undefined {
  if (typeof request.cf !== "object" || request.cf === null || !request.headers.has("CF-Ray")) return undefined;
  return request.headers.get("CF-Connecting-IP") ?? undefined;
}

/** The key an address is counted under: IPv4 as is, IPv6 by its /64, an IPv4-mapped IPv6 as IPv4; undefined if it is not an address. */
export function addressKey(raw: string): string | undefined {
  const text = raw.trim();
  if (text.length > 64) return undefined;
  if (IPV4.test(text)) return text;
  const groups = ipv6Groups(text.replace(/%.*$/, ""));
  if (!groups) return undefined;
  const [, , , , , mapped, high = 0, low = 0] = groups;
  if (mapped === 0xffff && groups.slice(0, 5).every((g) => g === 0)) return [high >> 8, high & 255, low >> 8, low & 255].join(".");
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (with `::` and a trailing dotted quad), or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const [head = "", tail] = halves;
  const left = groupsOf(head, tail === undefined);
  const right = tail === undefined ? [] : groupsOf(tail, true);
  if (!left || !right) return undefined;
  if (tail === undefined) return left.length === 8 ? left : undefined;
  const missing = 8 - left.length - right.length;
  return missing >= 1 ? [...left, ...new Array<number>(missing).fill(0), ...right] : undefined;
}

function groupsOf(part: string, last: boolean): number[] | undefined {
  if (part === "") return [];
  const pieces = part.split(":");
  const groups: number[] = [];
  for (const [i, piece] of pieces.entries()) {
    if (last && i === pieces.length - 1 && IPV4.test(piece)) {
      const [a = 0, b = 0, c = 0, d = 0] = piece.split(".").map(Number);
      groups.push((a << 8) | b, (c << 8) | d);
    } else if (HEX_GROUP.test(piece)) {
      groups.push(parseInt(piece, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}
