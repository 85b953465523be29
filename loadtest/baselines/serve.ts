// Starts the two baselines for `npm run bench`: the bare Durable Object on
// the same workerd binary as roomcast (bundled here with esbuild, the bundler
// wrangler itself uses), and the raw `ws` server in a child Node process, so
// that neither shares a thread with the load client.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { workerdBin } from "../../scripts/runtime.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));

export interface Baseline {
  name: string;
  base: string;
  pid: number;
  stop(): Promise<void>;
}

function config(compatibilityDate: string): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "bare", worker = .bare) ],
  sockets = [ (name = "http", address = "127.0.0.1:8091", http = (), service = "bare") ],
);

const bare :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "${compatibilityDate}",
  durableObjectNamespaces = [ (className = "Room", uniqueKey = "bare-room") ],
  durableObjectStorage = (inMemory = void),
  bindings = [ (name = "ROOMS", durableObjectNamespace = "Room") ],
);
`;
}

/** Waits until `url` answers 2xx, or fails when `child` exits or `timeoutMs` passes. */
export async function waitForHttp(url: string, child: ChildProcess, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // Not up yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not answer on ${url}`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
}

/** The bare Durable Object broadcast on workerd, at 127.0.0.1:`port`. */
export async function startBareDurableObject(port: number, outDir: string, compatibilityDate: string): Promise<Baseline> {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(HERE, "bare-do.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    external: ["cloudflare:workers"],
    outfile: join(outDir, "worker.js"),
    logLevel: "warning",
  });
  await writeFile(join(outDir, "config.capnp"), config(compatibilityDate));
  const child = spawn(workerdBin(), ["serve", join(outDir, "config.capnp"), "--socket-addr", `http=127.0.0.1:${port}`], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/healthz`, child, "the bare Durable Object baseline");
  return { name: "bare-do", base, pid: child.pid ?? 0, stop: stopper(child) };
}

/** The raw `ws` broadcast server in its own Node process, at 127.0.0.1:`port`. */
export async function startWsServer(port: number): Promise<Baseline> {
  const child = spawn(process.execPath, [join(HERE, "ws-server.ts"), "--port", String(port)], { stdio: ["ignore", "ignore", "inherit"] });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/healthz`, child, "the ws baseline");
  return { name: "ws", base, pid: child.pid ?? 0, stop: stopper(child) };
}
