// F1: kill -9 of the runtime during 20 rooms x 10 clients under load, then a
// restart on the same state: I1–I4 hold and every client resumes within 10 s.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { waitUntil } from "../support/node-client.ts";
import { defaultRuntime, startServer, type RunningServer } from "../support/server.ts";
import { check } from "./checker.ts";
import { FAULT_SECRET, sleep, teardownAfterAll } from "./lifecycle.ts";
import { sharedDatabase } from "./databases.ts";
import { loginToken, settle, startLoad, startWorkload, type Workload } from "./workload.ts";

const cleanup = teardownAfterAll();

it("F1 kill -9 under load, restart: nothing acked is lost, every client resumes within 10 s", async () => {
  const db = await sharedDatabase();
  cleanup(() => db.stop());
  const dataDir = await mkdtemp(join(tmpdir(), "roomcast-f1-"));
  const env = { DATABASE_URL: db.url, JWT_SECRET: FAULT_SECRET, ROOMCAST_DATA_DIR: dataDir };
  let server: RunningServer = await startServer(env);
  cleanup(() => server.stop());
  const port = new URL(server.base).port;

  const workload: Workload = await startWorkload(
    server.base,
    { prefix: `f1${Date.now().toString(36)}`, rooms: 20, clientsPerRoom: 10 },
    cleanup,
  );
  // Plain workerd (the self-hosted build, as CI runs it): 200 messages/s x10
  // deliveries; 200 clients resumed in 3.4 s here (at 300/s in 4.1–7.1 s,
  // and once past 10 s on a busy machine). Under wrangler dev its
  // local proxy is the bottleneck: 40/s keeps a margin (60/s took 3.5–7.8 s,
  // 100/s 9.6 s, 150/s over 10 s). See docs/performance.md.
  const rate = Number(process.env.F1_RATE ?? (defaultRuntime === "workerd" ? 200 : 40));
  const load = startLoad(workload, rate);
  await sleep(4000);

  await server.kill9();
  const connectsBefore = workload.clients.map((c) => c.client.connects);
  await sleep(1000);
  server = await startServer({ ...env, PORT: port });
  const restartedAt = Date.now();
  await waitUntil(() => workload.clients.every((c, i) => c.client.connects > (connectsBefore[i] ?? 0)), "every client to resume", 10_000);
  const resumeMs = Date.now() - restartedAt;
  await sleep(3000);
  load.stop();
  await settle(workload);

  const token = await loginToken(workload);
  const report = await check("F1", workload, db.url, token);
  console.log(`F1 (${defaultRuntime}, ${rate} msg/s): every client resumed ${resumeMs} ms after the restart answered`);
  expect(report.violations).toEqual([]);
  expect(report.duplicates).toBe(0);
  expect(report.gaps).toBe(0);
  expect(report.acked).toBeGreaterThan(400);
  expect(resumeMs).toBeLessThan(10_000);
});
