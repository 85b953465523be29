// F3: PostgreSQL unreachable without a clean error (a relay that swallows
// every packet, no RST, no FIN) for 30 s: ack latency stays bounded, the
// runtime's memory does not grow without bound, and the outbox drains after.
import { execFileSync } from "node:child_process";
import { expect, it } from "vitest";
import { http } from "../support/node-client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { check } from "./checker.ts";
import { FAULT_SECRET, sleep, teardownAfterAll } from "./lifecycle.ts";
import { Relay, sharedDatabase } from "./databases.ts";
import { loginToken, settle, startLoad, startWorkload, type Workload } from "./workload.ts";

const cleanup = teardownAfterAll();

/** Resident memory of this server's workerd process, in MiB (not any other workerd on the machine). */
function workerdRssMiB(server: RunningServer): number {
  const group = server.runtimeGroup();
  if (!group) throw new Error("the server did not say its runtime process group");
  const out = execFileSync("ps", ["-g", String(group), "-o", "rss=,comm="], { encoding: "utf8" });
  return (
    out
      .split("\n")
      .filter((line) => line.trim().endsWith("workerd"))
      .reduce((sum, line) => sum + (Number.parseInt(line.trim(), 10) || 0), 0) / 1024
  );
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

const latencies = (w: Workload) => w.clients.flatMap((c) => c.client.ackLatencies);

it("F3 PostgreSQL behind a packet-swallowing partition for 30 s: bounded acks and memory, then the outbox drains", async () => {
  const db = await sharedDatabase();
  cleanup(() => db.stop());
  const { relay, url } = await Relay.start(db.url);
  cleanup(() => relay.stop());
  const server: RunningServer = await startServer({
    DATABASE_URL: url,
    JWT_SECRET: FAULT_SECRET,
    DATABASE_TIMEOUT: "3s",
  });
  cleanup(() => server.stop());
  const workload = await startWorkload(server.base, { prefix: `f3${Date.now().toString(36)}`, rooms: 5, clientsPerRoom: 5 }, cleanup);
  const load = startLoad(workload, 30);
  await sleep(3000);

  const before = latencies(workload).length;
  const rssBefore = workerdRssMiB(server);
  relay.blackhole(true);
  await sleep(30_000);
  const during = latencies(workload).slice(before);
  const rssDuring = workerdRssMiB(server);
  expect((await http(server.base, "/readyz")).status).toBe(503);
  relay.blackhole(false);
  await sleep(2000);
  load.stop();
  await settle(workload, 90_000);

  const report = await check("F3", workload, db.url, await loginToken(workload));
  console.log(
    `F3: ${during.length} acks during the partition, p99 ${p99(during)} ms, max ${Math.max(...during)} ms; ` +
      `workerd RSS ${rssBefore.toFixed(0)} -> ${rssDuring.toFixed(0)} MiB`,
  );
  expect(during.length).toBeGreaterThan(500);
  expect(p99(during)).toBeLessThan(1000);
  expect(rssDuring - rssBefore).toBeLessThan(100);
  expect(report.violations).toEqual([]);
  expect(report.duplicates).toBe(0);
  expect(report.gaps).toBe(0);
});
