// The migration runner against a real PostgreSQL (a fresh database on the
// server of TEST_DATABASE_URL) or, without it, a fresh embedded PGlite.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../scripts/embedded-pg.ts";
import { createSql, type Sql } from "./db.ts";
import { checkSequence, loadMigrations, migrate, MigrationError, type Migration } from "./migrate.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** A database nobody else uses. */
async function freshDatabase(): Promise<Sql> {
  const server = process.env.TEST_DATABASE_URL;
  if (!server) {
    const embedded = await startEmbeddedPostgres({ port: 0 });
    const sql = createSql(embedded.url);
    cleanups.push(async () => {
      await sql.end({ timeout: 2 });
      await embedded.stop();
    });
    return sql;
  }
  const name = `roomcast_mig_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const admin = createSql(server);
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  const sql = createSql(url.toString());
  cleanups.push(async () => {
    await sql.end({ timeout: 2 });
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end({ timeout: 2 });
  });
  return sql;
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
    await expect(loadMigrations(await folder({ "0001_a.sql": "SELECT 1", "0003_c.sql": "SELECT 1" }))).rejects.toMatchObject({ code: "GAP" });
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
    expect(tables.map((t) => t.table_name)).toEqual(["messages", "room_leases", "room_members", "rooms", "schema_migrations", "users", "ws_tickets"]);
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
