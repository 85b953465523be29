// F4: a room idle long enough to hibernate, then a burst; then a restart
// (SIGTERM: goaway, close 1012) with clients that reconnect. No gaps, no
// duplicates, identities and presence restored.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { Peer, waitUntil } from "../support/node-client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { check } from "./checker.ts";
import { FAULT_SECRET, sleep, teardownAfterAll } from "./lifecycle.ts";
import { sharedDatabase } from "./databases.ts";
import { loginToken, settle, startLoad, startWorkload } from "./workload.ts";

const cleanup = teardownAfterAll();

it("F4 idle room then a burst, and a restart with reconnecting clients: no gaps, no duplicates, presence restored", async () => {
  const db = await sharedDatabase();
  cleanup(() => db.stop());
  const env = {
    DATABASE_URL: db.url,
    JWT_SECRET: FAULT_SECRET,
    ROOMCAST_DATA_DIR: await mkdtemp(join(tmpdir(), "roomcast-f4-")),
    RECONNECT_SPREAD: "2s",
  };
  let server: RunningServer = await startServer(env);
  cleanup(() => server.stop());
  const workload = await startWorkload(server.base, { prefix: `f4${Date.now().toString(36)}`, rooms: 3, clientsPerRoom: 5 }, cleanup);

  const burst = async (perSecond: number, ms: number) => {
    const load = startLoad(workload, perSecond);
    await sleep(ms);
    load.stop();
    await settle(workload);
  };
  await burst(30, 1000);
  // workerd evicts an object whose sockets are all hibernatable after about
  // 10 s without events; the sockets stay open meanwhile.
  await sleep(15_000);
  await burst(60, 1000);

  const connectsBefore = workload.clients.map((c) => c.client.connects);
  await server.stop();
  const goaways = workload.clients.filter((c) => c.client.closes.includes(1012)).length;
  server = await startServer({ ...env, PORT: new URL(workload.base).port });
  await waitUntil(
    () => workload.clients.every((c, i) => c.client.connects > (connectsBefore[i] ?? 0)),
    "every client to reconnect",
    20_000,
  );
  await burst(30, 1000);

  // A newcomer sees everyone who is back, with the right identities.
  const token = await loginToken(workload);
  for (const room of workload.rooms) {
    const observer = await Peer.open(`${workload.base.replace("http", "ws")}/rooms/${room}/ws`, { Authorization: `Bearer ${token}` });
    const [welcome] = await observer.waitFor("welcome");
    const expected = new Set(workload.clients.filter((c) => c.room === room).map((c) => c.userId));
    expect(new Set(welcome?.presence.map((p) => p.userId))).toEqual(expected);
    observer.close();
  }
  const report = await check("F4", workload, db.url, token);
  console.log(`F4: ${goaways} of ${workload.clients.length} clients saw close 1012 after goaway`);
  expect(goaways).toBe(workload.clients.length);
  expect(report.violations).toEqual([]);
  expect(report.duplicates).toBe(0);
  expect(report.gaps).toBe(0);
});
