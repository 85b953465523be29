// Starts the service exactly as `npm start` does (scripts/start.ts) on free
// ports: under `wrangler dev`, or under plain `workerd serve` on the
// self-hosted build as `npm run serve:workerd` does. ROOMCAST_RUNTIME=workerd
// runs every end-to-end and fault test on the self-hosted build.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { takePidFile } from "../../scripts/pid-file.ts";
import { waitUntil } from "./node-client.ts";

export type Runtime = "wrangler" | "workerd" | "binary";

/** The runtime of tests that do not ask for one: ROOMCAST_RUNTIME, else wrangler dev as `npm start`. */
export const defaultRuntime: Runtime = process.env.ROOMCAST_RUNTIME === "workerd" ? "workerd" : "wrangler";

/** Ports this process has handed out: a server's HTTP and PostgreSQL ports once came out the same (CI). */
const handedOut = new Set<number>();

/**
 * Where this process takes its ports: a block of its own per vitest worker
 * (VITEST_POOL_ID), below the kernel's ephemeral range (32768 and up on
 * Linux). Two test files run at once; a port one of them picked by binding
 * port 0 and closing it was once taken by the other's server (wrangler's
 * "Address already in use" in CI), and wrangler and workerd bind port 0 for
 * their own internal sockets. Blocks of 1500 from 20000: eight workers.
 */
const BLOCK = 1500;
const blockStart = 20_000 + ((Math.max(1, Number(process.env.VITEST_POOL_ID) || 1) - 1) % 8) * BLOCK;
/** A random start in the block, so that test runs one after another do not reuse the same ports. */
let cursor = Math.floor(Math.random() * BLOCK);

/** True when nothing listens on 127.0.0.1:port. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * Claims a port across test processes: a file per port in the temp folder
 * (scripts/pid-file.ts). Vitest projects that run side by side (node and
 * client) number their workers from 1 each, so two processes can share a
 * block. Claims go when the process exits; vitest may end its workers by a
 * signal instead, and a claim of a process that has ended is taken over.
 */
const claimDir = join(tmpdir(), "roomcast-test-ports");
mkdirSync(claimDir, { recursive: true });
const claim = (port: number): boolean => takePidFile(join(claimDir, String(port))) === undefined;

/** A free TCP port on 127.0.0.1 from this worker's block, never one this process handed out before nor one another test process claimed. */
export async function freePort(): Promise<number> {
  for (let tried = 0; tried < BLOCK; tried++) {
    const port = blockStart + (cursor++ % BLOCK);
    if (handedOut.has(port) || !(await canListen(port)) || !claim(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`freePort: no free port left in ${blockStart}-${blockStart + BLOCK - 1}`);
}

/** A running server and how to stop it. */
export interface RunningServer {
  base: string;
  /** The metrics socket of the self-hosted build (workerd and binary runtimes). */
  metrics: string;
  dataDir: string;
  output: () => string;
  /** SIGTERM, as an operator stops it: rooms are drained first. */
  stop(): Promise<void>;
  /** The runtime's process group (wrangler and workerd, or workerd alone). */
  runtimeGroup(): number | undefined;
  /** `kill -9` of the supervisor, wrangler and workerd at once. */
  kill9(): Promise<void>;
}

/** The script `npm start` runs (serve:workerd runs the same with --runtime=workerd), read from package.json so that the tests follow it. */
async function startCommand(): Promise<string[]> {
  const pkg = JSON.parse(await readFile("package.json", "utf8")) as { scripts: { start: string } };
  const [program, ...args] = pkg.scripts.start.split(/\s+/);
  if (program !== "node") throw new Error(`npm start runs ${program}; these tests expect node`);
  return args;
}

/** Runs what `npm start` runs, with the given environment, and waits for /healthz. */
export async function startServer(env: Record<string, string | undefined> = {}, runtime: Runtime = defaultRuntime): Promise<RunningServer> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const dataDir = env.ROOMCAST_DATA_DIR ?? (await mkdtemp(join(tmpdir(), "roomcast-e2e-")));
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    ROOMCAST_DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(await freePort()),
    METRICS_ADDR: `127.0.0.1:${await freePort()}`,
    // wrangler's inspector from this worker's block too: left to wrangler
    // (9229 or the next free), two wranglers starting at once can pick the
    // same port, and one dies (CI: socket "direct:1:default").
    WORKERD_INSPECTOR: runtime === "wrangler" ? `127.0.0.1:${await freePort()}` : undefined,
    DATABASE_URL: undefined,
    TEST_DATABASE_URL: undefined,
    ROOMCAST_RUNTIME: runtime,
    WORKERD_OUT_DIR: inject("workerdOutDir"),
    ROOMCAST_BINARY: inject("roomcastBinary"),
    ...env,
  };
  const child: ChildProcess = spawn(process.execPath, await startCommand(), {
    env: Object.fromEntries(Object.entries(childEnv).filter((e) => e[1] !== undefined)) as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  child.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  // SIGTERM to the supervisor, as systemd would: it drains the rooms, then
  // stops wrangler and workerd. Everything is killed if it hangs.
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    process.kill(child.pid, "SIGTERM");
    const timer = setTimeout(() => killGroup("SIGKILL"), 20_000);
    await exited;
    clearTimeout(timer);
    killGroup("SIGKILL");
  };
  // The supervisor's group, and the runtime's own group (scripts/start.ts
  // starts wrangler detached and prints its process group).
  const killGroup = (signal: NodeJS.Signals) => {
    const runtime = Number(/runtime process group (\d+)/.exec(log)?.[1]);
    for (const group of [child.pid, runtime]) {
      try {
        if (group) process.kill(-group, signal);
      } catch {
        // Already gone.
      }
    }
  };
  try {
    await waitUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`server exited early:\n${log}`);
        return fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      "the server to answer /healthz",
      90_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    base,
    metrics: `http://${childEnv.METRICS_ADDR ?? ""}/metrics`,
    dataDir,
    output: () => log,
    runtimeGroup: () => Number(/runtime process group (\d+)/.exec(log)?.[1]) || undefined,
    stop,
    async kill9() {
      killGroup("SIGKILL");
      await exited;
    },
  };
}

/** What `allOrStop` ends when a sibling fails: a server (`stop`) or a browser (`close`). */
type Stoppable = { stop(): Promise<void> } | { close(): Promise<void> };

function isStoppable(value: unknown): value is Stoppable {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as { stop?: unknown; close?: unknown };
  return typeof candidate.stop === "function" || typeof candidate.close === "function";
}

/**
 * Like Promise.all, for starting servers (and browsers) side by side: when one
 * fails, the ones that did start are stopped before it throws. With
 * Promise.all a failed start left its sibling running after the test run
 * (CI, once: the suite's afterAll had no handle on it).
 */
export async function allOrStop<T extends readonly unknown[]>(starts: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(starts as readonly Promise<unknown>[]);
  const failed = settled.find((result) => result.status === "rejected");
  if (!failed) return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
  await Promise.all(
    settled.map(async (result) => {
      if (result.status !== "fulfilled" || !isStoppable(result.value)) return;
      const value = result.value;
      await ("stop" in value ? value.stop() : value.close()).catch(() => {});
    }),
  );
  throw failed.reason;
}
