import { describe, expect, it } from "vitest";
import { call, createRoom, signUp, unique } from "../test/support/api.ts";

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
