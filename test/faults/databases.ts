// Databases for the fault tests: a private PostgreSQL cluster that can be
// stopped hard, the shared test database, and a relay that can swallow packets.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, mkdtemp } from "node:fs/promises";
import { createServer, Socket, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres } from "../../scripts/embedded-pg.ts";
import { createSql } from "../../sql/db.ts";
import { loadMigrations, migrate } from "../../sql/migrate.ts";
import { freePort } from "../support/server.ts";

/** Applies the project's migrations. */
export async function migrateUrl(url: string): Promise<void> {
  const sql = createSql(url);
  try {
    await migrate(sql, await loadMigrations());
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** A PostgreSQL this test owns: started, stopped hard, started again. */
export interface PrivatePostgres {
  url: string;
  stopImmediate(): void;
  start(): void;
  destroy(): void;
}

function postgresBin(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  const bin = version ? join(root, version, "bin") : "";
  return existsSync(join(bin, "pg_ctl")) ? bin : null;
}

/** True when PostgreSQL's server binaries (initdb, pg_ctl) are installed. */
export function hasPostgresServer(): boolean {
  return postgresBin() !== null;
}

/**
 * A real PostgreSQL cluster of its own (initdb in a temp folder, a free port),
 * run as the `postgres` user when this process is root. Null when the server
 * binaries are not installed (the CI script installs them).
 */
export async function privatePostgres(): Promise<PrivatePostgres | null> {
  const bin = postgresBin();
  if (!bin) return null;
  const dir = await mkdtemp(join(tmpdir(), "roomcast-pg-"));
  await chmod(dir, 0o777);
  const data = join(dir, "data");
  const port = await freePort();
  const asOwner = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const run = (program: string, args: string[]) => {
    const [cmd, ...rest] = [...asOwner, join(bin, program), ...args];
    const result = spawnSync(cmd ?? "", rest, { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`${program} failed: ${result.stderr || result.stdout}`);
  };
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  const start = () =>
    run("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, "start"]);
  start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    start,
    stopImmediate: () => run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]),
    destroy: () => {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // Already stopped.
      }
      execFileSync("rm", ["-rf", dir]);
    },
  };
}

/**
 * A database of the caller's own that it may lock: a new database on
 * TEST_DATABASE_URL's server, or a private cluster; null with only the
 * embedded PGlite (its one session cannot hold a lock against itself).
 * Migrated.
 */
export async function lockableDatabase(name: string): Promise<{ url: string; drop(): Promise<void> } | null> {
  const shared = process.env.TEST_DATABASE_URL;
  if (shared) {
    const database = `roomcast_${name}_${process.pid}`;
    const admin = createSql(shared);
    await admin.unsafe(`DROP DATABASE IF EXISTS ${database}`);
    await admin.unsafe(`CREATE DATABASE ${database}`);
    const url = new URL(shared);
    url.pathname = `/${database}`;
    await migrateUrl(url.toString());
    return {
      url: url.toString(),
      drop: async () => {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await admin.end({ timeout: 2 });
      },
    };
  }
  const cluster = await privatePostgres();
  if (!cluster) return null;
  await migrateUrl(cluster.url);
  return { url: cluster.url, drop: async () => cluster.destroy() };
}

/** True when {@link lockableDatabase} can give one. */
export function canLockDatabase(): boolean {
  return Boolean(process.env.TEST_DATABASE_URL) || hasPostgresServer();
}

/** The database a fault test uses when it does not need to stop it: TEST_DATABASE_URL or an embedded PGlite. */
export async function sharedDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    await migrateUrl(url);
    return { url, stop: async () => {} };
  }
  const embedded = await startEmbeddedPostgres({ port: 0 });
  await migrateUrl(embedded.url);
  return { url: embedded.url, stop: () => embedded.stop() };
}

/**
 * A TCP relay to PostgreSQL that can swallow packets: in `blackhole` mode it
 * forwards nothing in either direction and accepts new connections without
 * answering, with no RST and no FIN, like a network partition.
 */
export class Relay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #blackhole = false;
  port = 0;

  private constructor(target: { host: string; port: number }) {
    this.#server = createServer((inbound) => {
      const outbound = new Socket();
      outbound.connect(target.port, target.host);
      for (const s of [inbound, outbound]) {
        this.#sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => this.#sockets.delete(s));
      }
      inbound.on("data", (d: Buffer) => !this.#blackhole && outbound.write(d));
      outbound.on("data", (d: Buffer) => !this.#blackhole && inbound.write(d));
      inbound.on("close", () => outbound.destroy());
      outbound.on("close", () => inbound.destroy());
    });
  }

  /** Starts a relay to `targetUrl`; its own URL has the relay's port. */
  static async start(targetUrl: string): Promise<{ relay: Relay; url: string }> {
    const target = new URL(targetUrl);
    const relay = new Relay({ host: target.hostname, port: Number(target.port) });
    await new Promise<void>((resolve) => relay.#server.listen(0, "127.0.0.1", () => resolve()));
    const address = relay.#server.address();
    relay.port = typeof address === "object" && address ? address.port : 0;
    const url = new URL(targetUrl);
    url.port = String(relay.port);
    return { relay, url: url.toString() };
  }

  /** Swallows every packet from now on (or forwards again). */
  blackhole(on: boolean): void {
    this.#blackhole = on;
    // Connections that saw packets vanish are useless afterwards; the client
    // notices only through its own timeouts, as with a real partition.
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
