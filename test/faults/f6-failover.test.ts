// F6: several processes (issue 4). Two `workerd serve` processes of the
// self-hosted build in multi-process mode (NODE_ID: room leases in
// PostgreSQL, acks after the PostgreSQL commit) behind Debian's nginx with the
// shipped site. Under load, kill -9 one: its rooms move to the other once
// their leases expire, and I1–I4 hold. Then it restarts, and the rooms nginx
// hashes to it are handed back (wanted_by), still without loss or duplicates.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { http, waitUntil } from "../support/node-client.ts";
import { hasNginx, roomFiles, startNginx } from "../support/nginx.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { createSql } from "../../sql/db.ts";
import { check } from "./checker.ts";
import { sharedDatabase } from "./databases.ts";
import { FAULT_SECRET, sleep, teardownAfterAll } from "./lifecycle.ts";
import { loginToken, settle, startLoad, startWorkload } from "./workload.ts";

// nginx serves the test's self-signed certificate; this file's process only.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

const cleanup = teardownAfterAll();

it.skipIf(!hasNginx)("F6 kill -9 of one of two processes under load: rooms fail over and back, nothing acked is lost", async () => {
  const db = await sharedDatabase();
  cleanup(() => db.stop());
  const dirs = { a: await mkdtemp(join(tmpdir(), "roomcast-f6a-")), b: await mkdtemp(join(tmpdir(), "roomcast-f6b-")) };
  const env = (node: "a" | "b") => ({
    DATABASE_URL: db.url,
    JWT_SECRET: FAULT_SECRET,
    NODE_ID: node,
    LEASE_TTL: "6s",
    RECONNECT_SPREAD: "2s",
    RATE_LIMIT_PER_SECOND: "50",
    RATE_LIMIT_BURST: "100",
    ROOMCAST_DATA_DIR: dirs[node],
  });
  let a: RunningServer = await startServer(env("a"), "workerd");
  const b: RunningServer = await startServer(env("b"), "workerd");
  cleanup(() => b.stop());
  cleanup(() => a.stop());
  const portA = new URL(a.base).port;
  const nginx = await startNginx([Number(portA), Number(new URL(b.base).port)]);
  cleanup(() => nginx.stop());

  const workload = await startWorkload(nginx.base, { prefix: `f6${Date.now().toString(36)}`, rooms: 10, clientsPerRoom: 5 }, cleanup);
  const load = startLoad(workload, Number(process.env.F6_RATE ?? 100));
  await sleep(4000);
  const onA = roomFiles(dirs.a);
  expect(onA.length).toBeGreaterThan(0);
  expect(roomFiles(dirs.b).length).toBeGreaterThan(0);

  // Failover: A dies; its rooms wait out their lease (6 s), then B claims them.
  const before = workload.clients.map((c) => c.client.connects);
  await a.kill9();
  const killedAt = Date.now();
  await sleep(500); // A's sockets drop at once: nginx closes them.
  await waitUntil(() => workload.clients.every((c) => c.client.connected), "every client of A's rooms to reconnect to B", 30_000).catch(
    (e: unknown) => {
      const connected = workload.clients.filter((c) => c.client.connected).length;
      console.log(`F6: ${connected}/${workload.clients.length} connected; B said:\n${b.output().split("\n").slice(-20).join("\n")}`);
      throw e;
    },
  );
  const moved = workload.clients.filter((c, i) => c.client.connects > (before[i] ?? 0)).length;
  const failoverMs = Date.now() - killedAt;
  await sleep(3000);
  expect(onA.every((f) => roomFiles(dirs.b).includes(f))).toBe(true);

  // Failback: A restarts; once nginx sends A's rooms there again, a request
  // for each room makes A ask for it and B hand it over.
  a = await startServer({ ...env("a"), PORT: portA }, "workerd");
  const token = await loginToken(workload);
  await sleep(6000); // nginx's fail_timeout for A
  const handback = await Promise.all(
    workload.rooms.map(async (room) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const page = await http(nginx.base, `/rooms/${room}/messages?after=0&limit=1`, { token });
        if (page.status === 200 || Date.now() > deadline) return page.status;
        await sleep(500);
      }
    }),
  );
  await sleep(3000);
  load.stop();
  await settle(workload, 90_000);

  const report = await check("F6", workload, db.url, token);
  const sql = createSql(db.url);
  const owners = await sql<{ node_id: string; n: string }[]>`
    SELECT node_id, count(*) AS n FROM room_leases WHERE room_id IN ${sql(workload.rooms)} GROUP BY node_id`;
  await sql.end({ timeout: 2 });
  const ownedBy = Object.fromEntries(owners.map((o) => [o.node_id, Number(o.n)]));
  const latencies = workload.clients.flatMap((c) => c.client.ackLatencies).sort((x, y) => x - y);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  console.log(
    `F6: ${onA.length} of ${workload.rooms.length} rooms on A; ${moved} of ${workload.clients.length} clients ` +
      `reconnected ${failoverMs} ms after the kill; history after the restart answered ${JSON.stringify(handback)}; ` +
      `leases now ${JSON.stringify(ownedBy)}; ack latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms (whole run, failover included)`,
  );
  expect(report.violations).toEqual([]);
  expect(report.duplicates).toBe(0);
  expect(report.gaps).toBe(0);
  expect(report.acked).toBeGreaterThan(500);
  expect(handback.every((status) => status === 200)).toBe(true);
  // Every room of A is A's again (B handed them back); B kept its own.
  expect(ownedBy).toEqual({ a: onA.length, b: workload.rooms.length - onA.length });
});
