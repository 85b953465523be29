import { env } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { addressKey, clientAddress } from "./client-address.ts";
import type { AppEnv } from "./context.ts";

// A one-route app that answers what clientAddress sees, under a given environment.
const probe = new Hono<AppEnv>().get("/", (c) => c.text(clientAddress(c) ?? "unknown"));

async function seen(vars: Record<string, string>, init: RequestInit & { cf?: object } = {}): Promise<string> {
  const response = await probe.fetch(new Request("http://roomcast.test/", init), { ...env, ...vars });
  return response.text();
}

describe("addressKey", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    [" 203.0.113.7 ", "203.0.113.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:DB8:1:2::9", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::ffff:198.51.100.4", "198.51.100.4"],
    ["64:ff9b::198.51.100.4", "64:ff9b:0:0::/64"],
  ])("%s counts as %s", (raw, key) => {
    expect(addressKey(raw)).toBe(key);
  });

  it.each([
    "",
    "unknown",
    "unix:",
    "256.1.1.1",
    "1.2.3",
    "01.2.3.4",
    "1.2.3.4, 5.6.7.8",
    "2001:db8::1::2",
    "1:2:3:4:5:6:7:8:9",
    "12345::",
    "::ffff:1.2.3.4.5",
  ])("%j is not an address", (raw) => {
    expect(addressKey(raw)).toBeUndefined();
  });
});

describe("clientAddress", () => {
  it("reads only the configured header when CLIENT_ADDRESS_HEADER is set", async () => {
    const headers = { "X-Real-IP": "198.51.100.9", "X-Forwarded-For": "203.0.113.1", "CF-Connecting-IP": "203.0.113.2" };
    expect(await seen({ CLIENT_ADDRESS_HEADER: "X-Real-IP" }, { headers })).toBe("198.51.100.9");
    // The client's own X-Forwarded-For or CF-Connecting-IP never stand in for it.
    expect(await seen({ CLIENT_ADDRESS_HEADER: "X-Real-IP" }, { headers: { "X-Forwarded-For": "203.0.113.1" } })).toBe("unknown");
    expect(await seen({ CLIENT_ADDRESS_HEADER: "X-Real-IP" }, { headers: { "X-Real-IP": "not an address" } })).toBe("unknown");
  });

  it("unset: CF-Connecting-IP only from Cloudflare's edge (request.cf and CF-Ray), else unknown", async () => {
    const cf = { colo: "AMS", asn: 64500 };
    const fromEdge = { "CF-Connecting-IP": "203.0.113.2", "CF-Ray": "8f0c2a7e9b1d4c55-AMS" };
    expect(await seen({}, { headers: fromEdge, cf })).toBe("203.0.113.2");
    // Plain workerd: no request.cf, so a client's own headers count for nothing.
    expect(await seen({}, { headers: fromEdge })).toBe("unknown");
    // wrangler dev (Miniflare): request.cf and a CF-Connecting-IP from the socket, but no CF-Ray.
    expect(await seen({}, { headers: { "CF-Connecting-IP": "127.0.0.1" }, cf })).toBe("unknown");
    expect(await seen({}, { headers: { "X-Real-IP": "198.51.100.9" } })).toBe("unknown");
  });

  it("counts IPv6 clients by their /64", async () => {
    const headers = { "X-Real-IP": "2001:db8:aa:bb:1:2:3:4" };
    expect(await seen({ CLIENT_ADDRESS_HEADER: "X-Real-IP" }, { headers })).toBe("2001:db8:aa:bb::/64");
  });
});
