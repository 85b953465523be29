// The migration runner against a real PostgreSQL (a fresh database on the
// server of TEST_DATABASE_URL) or, without it, a fresh embedded PGlite.
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../scripts/embedded-pg.ts";
import { createSql, type Sql } from "./db.ts";
import { checkSequence, loadMigrations, migrate, MIGRATION_LOCK_KEY, MigrationError, type Migration } from "./migrate.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** The URL of a database nobody else uses, dropped after the test. */
async function freshDatabaseUrl(): Promise<string> {
  const server = process.env.TEST_DATABASE_URL;
  if (!server) {
    const embedded = await startEmbeddedPostgres({ port: 0 });
    cleanups.push(() => embedded.stop());
    return embedded.url;
  }
  const name = `roomcast_mig_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const admin = createSql(server);
  await admin.unsafe(`CREATE DATABASE ${name}`);
  cleanups.push(async () => {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end({ timeout: 2 });
  });
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A client of `url`, ended after the test (before its database goes). */
function client(url: string): Sql {
  const sql = createSql(url);
  cleanups.push(() => sql.end({ timeout: 2 }));
  return sql;
}

/** A client of a database nobody else uses. */
async function freshDatabase(): Promise<Sql> {
  return client(await freshDatabaseUrl());
}

/** Granted advisory locks on the migration key (PGlite: held by its one session or not). */
async function migrationLocks(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid = ${String(MIGRATION_LOCK_KEY >> 32n)}::oid AND objid = ${String(MIGRATION_LOCK_KEY & 0xffffffffn)}::oid`;
  return row?.n ?? -1;
}

async function folder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "roomcast-mig-"));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof MigrationError ? error.code : "other";
  }
  return undefined;
}

describe("migration files", () => {
  it("are numbered from 0001 without gaps", async () => {
    const migrations = await loadMigrations();
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  it("refuse gaps, duplicates, a late start and bad names", async () => {
    const m = (version: number) => ({ version, name: `m${version}` });
    expect(codeOf(() => checkSequence([m(1), m(3)]))).toBe("GAP");
    expect(codeOf(() => checkSequence([m(1), m(1)]))).toBe("DUPLICATE");
    expect(codeOf(() => checkSequence([m(2)]))).toBe("GAP");
    expect(codeOf(() => checkSequence([m(1), m(2)]))).toBeUndefined();
    await expect(loadMigrations(await folder({ "1_init.sql": "SELECT 1" }))).rejects.toMatchObject({ code: "BAD_NAME" });
    await expect(loadMigrations(await folder({ "0001_a.sql": "SELECT 1", "0003_c.sql": "SELECT 1" }))).rejects.toMatchObject({
      code: "GAP",
    });
  });
});

describe("migrate", () => {
  it("applies the project's migrations once", async () => {
    const sql = await freshDatabase();
    const migrations = await loadMigrations();
    expect(await migrate(sql, migrations)).toEqual(migrations.map((m) => m.version));
    expect(await migrate(sql, migrations)).toEqual([]);
    const tables = await sql<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`;
    expect(tables.map((t) => t.table_name)).toEqual([
      "messages",
      "room_leases",
      "room_members",
      "rooms",
      "schema_migrations",
      "users",
      "ws_tickets",
    ]);
    expect(await migrationLocks(sql)).toBe(0);
  });

  // Two processes started at once (roomcast@1 and roomcast@2) against a fresh
  // database: without the lock, one failed on CREATE TABLE with
  // 'duplicate key value violates unique constraint "pg_type_typname_nsp_index"'.
  it("applies each migration once when two runs start at the same moment", async () => {
    const url = await freshDatabaseUrl();
    const migrations = await loadMigrations();
    const [a, b] = await Promise.all([migrate(client(url), migrations), migrate(client(url), migrations)]);
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(migrations.map((m) => m.version));
    const sql = client(url);
    const recorded = await sql<{ version: number }[]>`SELECT version FROM schema_migrations ORDER BY version`;
    expect(recorded.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    expect(await migrationLocks(sql)).toBe(0);
  });

  // The lock excludes another session only on a real PostgreSQL: PGlite has one.
  it.skipIf(!process.env.TEST_DATABASE_URL)("waits for the lock, then applies only what is still missing", async () => {
    const url = await freshDatabaseUrl();
    const migrations = await loadMigrations();
    const holder = client(url);
    await holder.unsafe(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    const waiting = migrate(client(url), migrations);
    waiting.catch(() => {}); // awaited below; no unhandled rejection if the test fails first
    const observer = client(url);
    const waiters = () => observer<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
    for (let i = 0; (await waiters())[0]?.n !== 1; i++) {
      if (i > 100) throw new Error("the second run never waited for the lock");
      await new Promise((r) => setTimeout(r, 20));
    }
    // The holder's session already has the lock, so its own run goes through
    // (re-entrant) and leaves the holder's first lock in place.
    expect(await migrate(holder, migrations)).toEqual(migrations.map((m) => m.version));
    expect(await migrationLocks(observer)).toBe(1);
    expect((await waiters())[0]?.n).toBe(1);
    await holder.unsafe(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
    expect(await waiting).toEqual([]);
    expect(await migrationLocks(observer)).toBe(0);
  });

  it("two migrate-cli processes (`npm run db:migrate`) started at once both succeed", async () => {
    const url = await freshDatabaseUrl();
    const run = () =>
      promisify(execFile)(process.execPath, [new URL("./migrate-cli.ts", import.meta.url).pathname], {
        env: { ...process.env, DATABASE_URL: url },
        timeout: 60_000,
      });
    const outputs = await Promise.all([run(), run()]);
    const applied = outputs.flatMap((o) => /applied (.*)/.exec(o.stdout)?.[1]?.split(", ").map(Number) ?? []);
    const migrations = await loadMigrations();
    expect(applied.sort((x, y) => x - y)).toEqual(migrations.map((m) => m.version));
    const recorded = await client(url)<{ version: number }[]>`SELECT version FROM schema_migrations ORDER BY version`;
    expect(recorded.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
  });

  it("runs each migration in a transaction: a failing one leaves nothing behind", async () => {
    const sql = await freshDatabase();
    const migrations = await loadMigrations(
      await folder({
        "0001_one.sql": "CREATE TABLE one (id int);",
        "0002_two.sql": "CREATE TABLE two (id int); SELECT no_such_function();",
      }),
    );
    await expect(migrate(sql, migrations)).rejects.toThrow(/no_such_function/);
    const tables = await sql<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`;
    expect(tables.map((t) => t.table_name)).toEqual(["one", "schema_migrations"]);
    expect((await sql`SELECT version FROM schema_migrations`).map((r) => r.version)).toEqual([1]);
    expect(await migrationLocks(sql)).toBe(0);
  });

  it("refuses a changed migration and a version it does not know", async () => {
    const sql = await freshDatabase();
    const first: Migration[] = await loadMigrations(await folder({ "0001_one.sql": "CREATE TABLE one (id int);" }));
    await migrate(sql, first);
    const changed = first.map((m) => ({ ...m, checksum: "different" }));
    await expect(migrate(sql, changed)).rejects.toMatchObject({ code: "CHANGED" });
    await sql`INSERT INTO schema_migrations (version, name, checksum) VALUES (2, 'future', 'x')`;
    await expect(migrate(sql, first)).rejects.toMatchObject({ code: "UNKNOWN_APPLIED" });
  });
});
