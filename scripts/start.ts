// `npm start`: the whole service on one machine. Without DATABASE_URL it
// starts the embedded PostgreSQL (PGlite) under .data/, migrates it, then
// runs the Worker and its rooms in workerd through `wrangler dev`.
// `npm run serve:workerd` (`--runtime=workerd`) does the same with plain
// `workerd serve` on the self-hosted build in dist/workerd/ instead, and
// `npm run serve:binary` (`--runtime=binary`) with the compiled dist/roomcast.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { lockDataDir } from "./data-lock.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded-pg.ts";
import { wranglerBin, workerdBin } from "./runtime.ts";
import { DATA_DIRECTORY, HTTP_SOCKET, METRICS_SOCKET } from "./workerd-config.ts";
import { SETTINGS } from "../core/config.ts";
import { createSql } from "../sql/db.ts";
import { loadMigrations, migrate } from "../sql/migrate.ts";

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(`roomcast: Node ${process.versions.node} is too old; run it as \`npm start\`, which uses the project's Node 22.`);
  process.exit(1);
}

/**
 * workerd holds about two descriptors per WebSocket and dies when accept()
 * runs out of them, so the default cap leaves room for the runtime's own.
 */
function derivedMaxConnections(): number {
  try {
    const limit = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim());
    if (Number.isFinite(limit) && limit > 0) return Math.max(1, Math.floor((limit - 512) / 2));
  } catch {
    // Fall through to a conservative default.
  }
  return 500;
}

const runtimeArg = process.argv.find((a) => a.startsWith("--runtime="))?.slice("--runtime=".length);
const runtime = runtimeArg ?? process.env.ROOMCAST_RUNTIME ?? "wrangler";
if (runtime !== "wrangler" && runtime !== "workerd" && runtime !== "binary") {
  console.error(`roomcast: unknown runtime "${runtime}"; use wrangler, workerd or binary`);
  process.exit(1);
}
const workerdConfig = resolve(process.env.WORKERD_OUT_DIR ?? "dist/workerd", "config.capnp");
const binary = resolve(process.env.ROOMCAST_BINARY ?? "dist/roomcast");
if (runtime === "workerd" && !existsSync(workerdConfig)) {
  console.error(`roomcast: ${workerdConfig} is missing; run \`npm run build:workerd\` first`);
  process.exit(1);
}
if (runtime === "binary" && !existsSync(binary)) {
  console.error(`roomcast: ${binary} is missing; run \`npm run build:workerd && npm run build:binary\` first`);
  process.exit(1);
}

const port = process.env.PORT ?? "8787";
const host = process.env.HOST ?? "127.0.0.1";
const dataDir = resolve(process.env.ROOMCAST_DATA_DIR ?? ".data");

/** Whether host:port can be listened on now (checked before anything starts). */
async function portFree(listenHost: string, listenPort: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => done(error.code !== "EADDRINUSE"));
    probe.listen(listenPort, listenHost, () => probe.close(() => done(true)));
  });
}

/** Exits with one line naming the port, what finds its holder, and the setting that moves it, when it is taken. */
async function requireFree(listenHost: string, listenPort: number, setting: string): Promise<void> {
  if (await portFree(listenHost, listenPort)) return;
  console.error(
    `roomcast: port ${listenPort} on ${listenHost} is already in use (an earlier npm start?); see what holds it with \`ss -ltnp 'sport = :${listenPort}'\`, or start on another with ${setting}=…`,
  );
  process.exit(1);
}

/** Host and port of an address such as 127.0.0.1:9464; exits naming `setting` when it is not one. */
function hostPort(address: string, setting: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(address);
  if (!match?.[1] || !match[2]) {
    console.error(`roomcast: ${setting} must be host:port, got ${JSON.stringify(address)}`);
    process.exit(1);
  }
  return { host: match[1], port: Number(match[2]) };
}

const holder = lockDataDir(dataDir);
if (holder !== undefined) {
  console.error(
    `roomcast: ${dataDir} is in use by another npm start (pid ${holder}); stop it first, or give this one a data directory of its own with ROOMCAST_DATA_DIR=…`,
  );
  process.exit(1);
}

// Addresses are checked before anything starts.
const inspector = process.env.WORKERD_INSPECTOR ? hostPort(process.env.WORKERD_INSPECTOR, "WORKERD_INSPECTOR") : undefined;
const embeddedPort = Number(process.env.EMBEDDED_PG_PORT ?? 54329);
const metricsAddr = process.env.METRICS_ADDR ?? "127.0.0.1:9464";
await requireFree(host, Number(port), "PORT");
if (!process.env.DATABASE_URL) await requireFree("127.0.0.1", embeddedPort, "EMBEDDED_PG_PORT");
if (runtime !== "wrangler") {
  const metrics = hostPort(metricsAddr, "METRICS_ADDR");
  await requireFree(metrics.host, metrics.port, "METRICS_ADDR");
}

let embedded: EmbeddedPostgres | undefined;
let databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  embedded = await startEmbeddedPostgres({
    dataDir: join(dataDir, "pglite"),
    port: embeddedPort,
  });
  databaseUrl = embedded.url;
  console.log(`roomcast: embedded PostgreSQL (PGlite) on ${embedded.url}, data in ${join(dataDir, "pglite")}`);
}

const sql = createSql(databaseUrl);
try {
  const ran = await migrate(sql, await loadMigrations());
  console.log(ran.length ? `roomcast: applied migrations ${ran.join(", ")}` : "roomcast: database schema up to date");
} catch (error) {
  console.error(`roomcast: migration failed: ${error instanceof Error ? error.message : String(error)}`);
  await embedded?.stop();
  process.exit(1);
} finally {
  await sql.end({ timeout: 5 });
}

// Settings passed to the runtime on top of the shell's own: every Worker
// setting the shell sets (the list is derived from core/config.ts's schema),
// so that it wins over .dev.vars and wrangler.toml.
const settings: Record<string, string> = {};
for (const key of SETTINGS) {
  const value = process.env[key];
  if (value !== undefined) settings[key] = value;
}
settings.DATABASE_URL = databaseUrl;
// The default origins follow the port, so a browser page on PORT keeps working.
if (process.env.ALLOWED_ORIGINS === undefined && port !== "8787") {
  settings.ALLOWED_ORIGINS = `http://localhost:${port},http://127.0.0.1:${port}`;
}
if (process.env.MAX_CONNECTIONS === undefined) {
  settings.MAX_CONNECTIONS = String(derivedMaxConnections());
  console.log(`roomcast: MAX_CONNECTIONS=${settings.MAX_CONNECTIONS} (from the open-file limit)`);
}
// Lets this supervisor drain the rooms before it stops the runtime.
const drainToken = process.env.DRAIN_TOKEN ?? randomBytes(24).toString("hex");
settings.DRAIN_TOKEN = drainToken;

/**
 * The self-hosted build runs as production: it needs a real JWT_SECRET. When
 * the shell has none, one is made once and kept in the data directory
 * (readable by this user only), so that tokens survive restarts.
 */
async function persistedJwtSecret(): Promise<string> {
  const file = join(dataDir, "jwt-secret");
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  console.log(`roomcast: JWT_SECRET not set; generated one in ${file}`);
  return secret;
}

/** Whether .dev.vars gives JWT_SECRET a value (wrangler dev reads it). */
async function devVarsSetJwtSecret(): Promise<boolean> {
  if (!existsSync(".dev.vars")) return false;
  return (await readFile(".dev.vars", "utf8")).split("\n").some((line) => /^\s*JWT_SECRET\s*=\s*["']?[^\s"']/.test(line));
}

let command: string[];
if (runtime === "wrangler") {
  // Development too keeps one secret across restarts, so that tokens survive
  // them: the shell's or .dev.vars's if set, else the one kept in dataDir.
  if (process.env.JWT_SECRET === undefined && !(await devVarsSetJwtSecret())) {
    settings.JWT_SECRET = await persistedJwtSecret();
  }
  command = [
    wranglerBin(),
    "dev",
    "--port",
    port,
    "--ip",
    host,
    "--persist-to",
    join(dataDir, "wrangler"),
    "--show-interactive-dev-session=false",
    // wrangler's devtools inspector: 9229 or the next port free when it
    // looked. Two wranglers starting at once can both see the same port
    // free, and the later one then dies with "Address already in use"
    // (socket "direct:1:default"), as in CI; WORKERD_INSPECTOR pins it.
    ...(inspector ? ["--inspector-ip", inspector.host, "--inspector-port", String(inspector.port)] : []),
    ...Object.entries(settings).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
  ];
} else {
  const roomDir = join(dataDir, "rooms");
  await mkdir(roomDir, { recursive: true });
  settings.JWT_SECRET = process.env.JWT_SECRET ?? (await persistedJwtSecret());
  command = [
    ...(runtime === "binary" ? [binary] : [workerdBin(), "serve", workerdConfig]),
    "--socket-addr",
    `${HTTP_SOCKET}=${host}:${port}`,
    "--socket-addr",
    `${METRICS_SOCKET}=${metricsAddr}`,
    "--directory-path",
    `${DATA_DIRECTORY}=${roomDir}`,
    // For `npm run profile` (scripts/profile.ts): V8's inspector on this address.
    ...(process.env.WORKERD_INSPECTOR ? ["--inspector-addr", process.env.WORKERD_INSPECTOR] : []),
  ];
}

const runtimeCommand = runtime === "wrangler" ? [process.execPath, ...command] : command;
// The runtime runs under scripts/runtime-guard.ts, which leads its process
// group. fd 3 is the guard's lifeline: this process holds the other end and
// never writes, so when this process ends in any way (SIGKILL, a crash) the
// guard reads EOF and stops the whole group. Nothing outlives `npm start`.
const guard = join(dirname(fileURLToPath(import.meta.url)), "runtime-guard.ts");
const child = spawn(process.execPath, [guard, ...runtimeCommand], {
  stdio: ["inherit", "inherit", "inherit", "pipe"],
  // Its own process group: Ctrl-C (SIGINT to the terminal's group), SIGHUP
  // (the terminal closed) and systemd's SIGTERM reach this supervisor first,
  // which drains the rooms before it stops wrangler and workerd.
  detached: true,
  // No telemetry and no fetch of Cloudflare's request.cf sample: this may run offline.
  // The self-hosted build reads its settings from the environment.
  env: { ...process.env, ...settings, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
});

/** Asks the rooms to send `goaway` and close 1012 before the runtime stops. */
async function drain(): Promise<void> {
  try {
    const response = await fetch(`http://${host}:${port}/internal/drain`, {
      method: "POST",
      headers: { Authorization: `Bearer ${drainToken}` },
      signal: AbortSignal.timeout(5000),
    });
    const body = (await response.json()) as { rooms?: number; sockets?: number };
    console.log(`roomcast: drained ${body.sockets ?? 0} sockets in ${body.rooms ?? 0} rooms`);
  } catch (error) {
    console.error(`roomcast: drain failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

console.log(`roomcast: ${runtime} on http://${host}:${port}, runtime process group ${child.pid}`);

/** Prints the chat page's address once the server answers, so that the line is the last thing to read. */
async function announcePage(): Promise<void> {
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const page = `http://${shown}:${port}/`;
  for (let waited = 0; waited < 120_000 && !stopping && child.exitCode === null; waited += 250) {
    const up = await fetch(`${page}healthz`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (up) {
      console.log(`roomcast: chat page at ${page} (Ctrl-C stops the server)`);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function stopRuntime(signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void drain().finally(() => stopRuntime("SIGTERM"));
  });
}
// Never leave the runtime behind, whatever ends this process normally.
process.on("exit", () => stopRuntime("SIGKILL"));
void announcePage();
child.on("exit", async (code, signal) => {
  await embedded?.stop();
  process.exit(stopping ? 0 : (code ?? (signal ? 1 : 0)));
});
