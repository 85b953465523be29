// Starts the two baselines for `npm run bench`: the bare Durable Object on
// the same workerd binary as roomcast (bundled here with esbuild, the bundler
// wrangler itself uses), and the raw `ws` server in a child Node process, so
// that neither shares a thread with the load client. Every server the bench
// starts (these and roomcast) runs in a process group of its own, so that
// its process tree is all the bench samples and all it stops.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { workerdBin } from "../../scripts/runtime.ts";
import { isRunning, ownProcessGroup, processTree, type SeenProcess } from "../server-probe.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));

export interface Baseline {
  name: string;
  base: string;
  /** The process the bench started; the server is it and its descendants. */
  pid: number;
  /** Stops the whole process tree and waits until it is gone. */
  stop(): Promise<void>;
}

function config(compatibilityDate: string, storeDir: string | null): string {
  const store = storeDir !== null;
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "bare", worker = .bare)${store ? `, (name = "room-data", disk = (path = ${JSON.stringify(storeDir)}, writable = true))` : ""} ],
  sockets = [ (name = "http", address = "127.0.0.1:8091", http = (), service = "bare") ],
);

const bare :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "${compatibilityDate}",
  durableObjectNamespaces = [ (className = "Room", uniqueKey = "bare-room"${store ? ", enableSql = true" : ""}) ],
  durableObjectStorage = ${store ? '(localDisk = "room-data")' : "(inMemory = void)"},
  bindings = [ (name = "ROOMS", durableObjectNamespace = "Room")${store ? ', (name = "STORE", text = "1")' : ""} ],
);
`;
}

/** Waits until `url` answers 2xx, or fails when `child` exits or `timeoutMs` passes. */
export async function waitForHttp(url: string, child: ChildProcess, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited with ${child.exitCode ?? child.signalCode}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // Not up yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not answer on ${url}`);
}

/** Starts a server in a process group of its own (stdout dropped, stderr shown). */
export function spawnServer(command: string, args: string[], options: Omit<SpawnOptions, "detached" | "stdio"> = {}): ChildProcess {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "ignore", "inherit"], detached: true });
  // A command that cannot start (ENOENT) ends as an exit, which waitForHttp reports.
  child.on("error", (error) => process.stderr.write(`bench: ${command}: ${error.message}\n`));
  return child;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function signal(target: number, name: NodeJS.Signals): void {
  try {
    process.kill(target, name);
  } catch {
    // Already gone.
  }
}

/** SIGKILL to every process of `tree` still running and to its process groups (never this process's own). */
export function killTree(tree: readonly SeenProcess[]): void {
  const own = ownProcessGroup();
  const alive = tree.filter(isRunning);
  for (const group of new Set(alive.map((p) => p.pgrp))) if (group > 1 && group !== own) signal(-group, "SIGKILL");
  for (const p of alive) if (p.pid !== process.pid) signal(p.pid, "SIGKILL");
}

/** Resolves when `child` has exited (at once if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((r) => child.once("exit", () => r()));
}

/**
 * Stops a server started with spawnServer: SIGTERM to its process group,
 * then, after `graceMs`, SIGKILL to every process of its tree (and their
 * groups); resolves once the child has exited and no process of its tree
 * (as it was before the SIGTERM, and `seen`, the tree taken once it was
 * ready) still runs, so its ports are free.
 */
export async function stopServer(child: ChildProcess, graceMs: number, seen: readonly SeenProcess[] = []): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  // The tree now, plus what was seen earlier: a child that died has left its descendants to init.
  const tree = processTree(pid);
  for (const p of seen) if (!tree.some((t) => t.pid === p.pid && t.startTime === p.startTime)) tree.push(p);
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  if (!gone()) signal(-pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while ((!gone() || tree.some(isRunning)) && Date.now() < deadline) await sleep(50);
  if (!gone() || tree.some(isRunning)) {
    process.stderr.write(`bench: process tree of ${pid} still running ${graceMs} ms after SIGTERM; SIGKILL\n`);
    killTree(tree);
  }
  await exited(child);
  for (let i = 0; i < 100 && tree.some(isRunning); i += 1) await sleep(50);
  const left = tree.filter(isRunning);
  if (left.length > 0) throw new Error(`processes ${left.map((p) => `${p.pid} (${p.comm})`).join(", ")} survived SIGKILL`);
}

/** Waits for `ready`; if it fails, stops `child` (a server that came up too late must not stay behind) and throws. */
export async function startedOrStopped(child: ChildProcess, ready: Promise<void>): Promise<void> {
  try {
    await ready;
  } catch (error) {
    await stopServer(child, 5000);
    throw error;
  }
}

/** The bare Durable Object broadcast on workerd, at 127.0.0.1:`port`. */
export async function startBareDurableObject(port: number, outDir: string, compatibilityDate: string, store = false): Promise<Baseline> {
  await mkdir(outDir, { recursive: true });
  // Room files on this machine's disk, beside the bundle.
  const storeDir = store ? join(outDir, "room-data") : null;
  if (storeDir) await mkdir(storeDir, { recursive: true });
  await build({
    entryPoints: [join(HERE, "bare-do.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    external: ["cloudflare:workers"],
    outfile: join(outDir, "worker.js"),
    logLevel: "warning",
  });
  await writeFile(join(outDir, "config.capnp"), config(compatibilityDate, storeDir));
  const child = spawnServer(workerdBin(), ["serve", join(outDir, "config.capnp"), "--socket-addr", `http=127.0.0.1:${port}`]);
  const base = `http://127.0.0.1:${port}`;
  await startedOrStopped(child, waitForHttp(`${base}/healthz`, child, "the bare Durable Object baseline"));
  const seen = processTree(child.pid ?? 0);
  return { name: store ? "bare-do-sqlite" : "bare-do", base, pid: child.pid ?? 0, stop: () => stopServer(child, 5000, seen) };
}

/** The raw `ws` broadcast server in its own Node process, at 127.0.0.1:`port`. */
export async function startWsServer(port: number): Promise<Baseline> {
  const child = spawnServer(process.execPath, [join(HERE, "ws-server.ts"), "--port", String(port)]);
  const base = `http://127.0.0.1:${port}`;
  await startedOrStopped(child, waitForHttp(`${base}/healthz`, child, "the ws baseline"));
  const seen = processTree(child.pid ?? 0);
  return { name: "ws", base, pid: child.pid ?? 0, stop: () => stopServer(child, 5000, seen) };
}
