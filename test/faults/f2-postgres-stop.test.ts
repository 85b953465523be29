// F2: PostgreSQL stopped hard (immediate mode) for 10 s during load, then
// started: sends keep being acked, /readyz goes 503 then 200, the outbox
// drains, and I1–I4 hold.
import { expect, it } from "vitest";
import { http, waitUntil } from "../support/node-client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { check } from "./checker.ts";
import { FAULT_SECRET, sleep, teardownAfterAll } from "./lifecycle.ts";
import { migrateUrl, privatePostgres, type PrivatePostgres } from "./databases.ts";
import { loginToken, settle, startLoad, startWorkload, type Workload } from "./workload.ts";

const cleanup = teardownAfterAll();
const totalAcked = (w: Workload) => w.clients.reduce((n, c) => n + c.client.acked.size, 0);

it("F2 PostgreSQL stopped hard for 10 s under load: acks continue, readyz flips, the outbox drains", async () => {
  const pg: PrivatePostgres | null = await privatePostgres();
  if (!pg) throw new Error("F2 needs PostgreSQL server binaries (apt-get install postgresql); .ci/run installs them");
  cleanup(() => pg.destroy());
  await migrateUrl(pg.url);
  const server: RunningServer = await startServer({ DATABASE_URL: pg.url, JWT_SECRET: FAULT_SECRET });
  cleanup(() => server.stop());

  const workload = await startWorkload(server.base, { prefix: `f2${Date.now().toString(36)}`, rooms: 10, clientsPerRoom: 5 }, cleanup);
  const load = startLoad(workload, 40);
  await sleep(3000);

  pg.stopImmediate();
  const ackedAtStop = totalAcked(workload);
  await waitUntil(async () => (await http(server.base, "/readyz")).status === 503, "/readyz to turn 503", 10_000);
  await sleep(10_000);
  const ackedDuringOutage = totalAcked(workload) - ackedAtStop;
  pg.start();
  await waitUntil(async () => (await http(server.base, "/readyz")).status === 200, "/readyz to turn 200", 20_000);
  await sleep(2000);
  load.stop();
  await settle(workload);

  const report = await check("F2", workload, pg.url, await loginToken(workload));
  console.log(`F2: ${ackedDuringOutage} sends acked while PostgreSQL was down`);
  expect(ackedDuringOutage).toBeGreaterThan(200);
  expect(report.violations).toEqual([]);
  expect(report.duplicates).toBe(0);
  expect(report.gaps).toBe(0);
});
