import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, connect, createRoom, signUp, stubOf, unique } from "../test/support/api.ts";

const TOKEN = "test-metrics-token";

async function scrape(): Promise<string> {
  const response = await call("/metrics", { token: TOKEN });
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of one series in an exposition, 0 when absent. */
function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("GET /metrics", () => {
  it("needs the metrics token", async () => {
    expect((await call("/metrics")).status).toBe(401);
    expect((await call("/metrics", { token: "wrong-token-of-other-len" })).status).toBe(401);
    const ok = await call("/metrics", { token: TOKEN });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  });

  it("answers OpenMetrics to a scraper that asks for it, as Prometheus does", async () => {
    const response = await call("/metrics", {
      token: TOKEN,
      headers: { Accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5" },
    });
    expect(response.headers.get("content-type")).toContain("application/openmetrics-text; version=1.0.0");
    const text = await response.text();
    expect(text).toContain("# TYPE auth_requests counter\n");
    expect(text.endsWith("# EOF\n")).toBe(true);
  });

  it("counts failed logins, messages by room type and HTTP requests by route pattern", async () => {
    const before = await scrape();
    const failedBefore = value(before, 'auth_requests_total{result="failure",reason="invalid_credentials"}');
    const sentBefore = value(before, 'messages_sent_total{room_type="private"}');
    const routeBefore = value(before, 'http_requests_total{route="/rooms/:id/messages",method="POST",status="201"}');

    await call("/auth/login", { method: "POST", json: { username: unique("nobody").slice(0, 32), password: "wrong-password" } });
    const { token } = await signUp("metrics");
    const room = await createRoom(token, "private");
    for (const id of ["a", "b"]) {
      const sent = await call(`/rooms/${room}/messages`, { method: "POST", token, json: { clientMsgId: id, body: "hello" } });
      expect(sent.status).toBe(201);
    }

    const after = await scrape();
    expect(value(after, 'auth_requests_total{result="failure",reason="invalid_credentials"}')).toBe(failedBefore + 1);
    expect(value(after, 'messages_sent_total{room_type="private"}')).toBe(sentBefore + 2);
    expect(value(after, 'http_requests_total{route="/rooms/:id/messages",method="POST",status="201"}')).toBe(routeBefore + 2);
    // No room id reaches a label.
    expect(after).not.toContain(room);
  });
});

describe("the Stats object's sum", () => {
  async function connections(type: "public" | "private"): Promise<number> {
    return value(await scrape(), `websocket_connections{room_type="${type}"}`);
  }

  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it("counts open sockets from the rooms' reports, keeps them while the room is evicted, and follows a close within seconds", async () => {
    const base = await connections("public");
    const alice = await signUp("gauge");
    const room = await createRoom(alice.token, "public");
    const a = await connect(room, alice.token);
    const b = await connect(room, alice.token);
    await a.waitFor("welcome");
    await b.waitFor("welcome");
    await until(async () => (await connections("public")) === base + 2, "two more sockets");
    expect(value(await scrape(), "rooms_active")).toBeGreaterThanOrEqual(1);
    // Evicted as after hibernation: its sockets stay open and still count.
    await evictDurableObject(stubOf(room));
    expect(await connections("public")).toBe(base + 2);
    b.close();
    await until(async () => (await connections("public")) === base + 1, "one socket fewer");
    a.close();
    await until(async () => (await connections("public")) === base, "the room to be empty");
  });

  it("adds up the reports of several isolates (a second isolate's report sent by the test: locally there is only one isolate)", async () => {
    const series = 'auth_requests_total{result="failure",reason="invalid_credentials"}';
    const before = await scrape();
    const stats = env.STATS.get(env.STATS.idFromName("global"));
    await stats.report({
      source: `test-isolate-${unique("src")}`,
      families: [
        {
          name: "auth_requests_total",
          help: "ignored: the scraping isolate's help text is used",
          type: "counter",
          samples: [{ labels: { result: "failure", reason: "invalid_credentials" }, value: 5 }],
        },
      ],
      rooms: { [unique("elsewhere")]: { type: "private", sockets: 3, outbox: 7, at: Date.now() } },
    });
    const after = await scrape();
    expect(value(after, series)).toBe(value(before, series) + 5);
    expect(value(after, 'websocket_connections{room_type="private"}')).toBe(
      value(before, 'websocket_connections{room_type="private"}') + 3,
    );
    expect(value(after, "outbox_pending_messages")).toBe(value(before, "outbox_pending_messages") + 7);
  });
});
