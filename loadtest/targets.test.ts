import { describe, expect, it } from "vitest";
import { HashRing, parseTarget } from "./targets.ts";

const rooms = Array.from({ length: 3000 }, (_, i) => `lt-run-${i}`);

describe("rooms over several targets", () => {
  it("picks the upstream nginx 1.22 picks with `hash $roomcast_room consistent`", () => {
    // Recorded from Debian's nginx 1.22.1 with deploy/nginx/roomcast.conf's map
    // and upstreams 127.0.0.1:18081-18083 (300 of 300 room ids agreed).
    const nginx: Record<string, string> = {
      "lt-run-0": "18082",
      "lt-run-1": "18081",
      "lt-run-2": "18082",
      "lt-run-3": "18081",
      "lt-run-4": "18083",
      "lt-run-5": "18082",
      "lt-run-6": "18083",
      "lt-run-7": "18082",
      "lt-run-8": "18083",
      "lt-run-9": "18081",
      "lt-run-10": "18082",
      "lt-run-11": "18081",
    };
    const ring = new HashRing(["http://127.0.0.1:18081", "http://127.0.0.1:18082", "http://127.0.0.1:18083"].map(parseTarget));
    for (const [room, port] of Object.entries(nginx)) expect(ring.pick(room).base).toBe(`http://127.0.0.1:${port}`);
  });

  it("puts a room on the same target every time and spreads rooms over all targets", () => {
    const targets = ["http://127.0.0.1:8081", "http://127.0.0.1:8082", "http://127.0.0.1:8083"].map(parseTarget);
    const ring = new HashRing(targets);
    const again = new HashRing(targets);
    const counts = new Map<string, number>();
    for (const room of rooms) {
      const target = ring.pick(room);
      expect(again.pick(room).base).toBe(target.base);
      counts.set(target.base, (counts.get(target.base) ?? 0) + 1);
    }
    for (const target of targets) expect(counts.get(target.base) ?? 0).toBeGreaterThan(rooms.length / 6);
  });

  it("moves only the removed target's rooms when a target goes away (consistent hashing)", () => {
    const three = ["http://127.0.0.1:8081", "http://127.0.0.1:8082", "http://127.0.0.1:8083"].map(parseTarget);
    const ring3 = new HashRing(three);
    const ring2 = new HashRing(three.slice(0, 2));
    for (const room of rooms) {
      const before = ring3.pick(room);
      if (before.base !== "http://127.0.0.1:8083") expect(ring2.pick(room).base).toBe(before.base);
    }
  });

  it("turns base URLs into WebSocket URLs and refuses other schemes", () => {
    expect(parseTarget("http://127.0.0.1:8787/")).toEqual({ base: "http://127.0.0.1:8787", ws: "ws://127.0.0.1:8787" });
    expect(parseTarget("https://chat.example").ws).toBe("wss://chat.example");
    expect(() => parseTarget("ftp://x")).toThrow("use http:// or https://");
  });
});
