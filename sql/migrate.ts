import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Sql } from "./db.ts";

/** One numbered migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** A stable code for each way the runner refuses to go on. */
export type MigrationErrorCode = "BAD_NAME" | "GAP" | "DUPLICATE" | "CHANGED" | "UNKNOWN_APPLIED";

/** Why the runner refused; nothing was applied when it throws before the first migration. */
export class MigrationError extends Error {
  readonly code: MigrationErrorCode;
  constructor(code: MigrationErrorCode, message: string) {
    super(message);
    this.name = "MigrationError";
    this.code = code;
  }
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The folder that holds the project's migrations. */
export const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url).pathname;

/** Reads and checks the migration files of a folder: `0001_name.sql`, numbered from 1 without gaps. */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match?.[1] || !match[2]) {
      throw new MigrationError("BAD_NAME", `${file}: expected NNNN_name.sql`);
    }
    const sql = await readFile(join(dir, file), "utf8");
    migrations.push({
      version: Number(match[1]),
      name: match[2],
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  checkSequence(migrations);
  return migrations;
}

/** Refuses duplicate numbers and gaps: versions must be exactly 1..n. */
export function checkSequence(migrations: readonly Pick<Migration, "version" | "name">[]): void {
  migrations.forEach((m, index) => {
    const expected = index + 1;
    if (m.version === index && index > 0) {
      throw new MigrationError("DUPLICATE", `two migrations are numbered ${m.version}`);
    }
    if (m.version !== expected) {
      throw new MigrationError("GAP", `migration ${m.version} (${m.name}) found where ${expected} was expected`);
    }
  });
}

/**
 * The key of the PostgreSQL advisory lock that serializes migration runs:
 * "roomcast" in ASCII as a bigint, 8245931958348116852 (0x726f6f6d63617374).
 * In `pg_locks` it shows as `locktype = 'advisory'`, `classid = 1919905645`,
 * `objid = 1667330932`, `objsubid = 1`.
 */
export const MIGRATION_LOCK_KEY = 0x726f6f6d63617374n;

/**
 * Applies the migrations not yet recorded in `schema_migrations`, each in its
 * own transaction with its record. Refuses when an applied file changed or the
 * database holds a version this code does not know. Returns the versions applied.
 *
 * Runs hold a session-level advisory lock ({@link MIGRATION_LOCK_KEY}) on one
 * reserved connection from before `CREATE TABLE schema_migrations` to the end,
 * so processes that start at the same moment against one database run one
 * after the other; a run that waited reads `schema_migrations` after the lock
 * and applies only what is still missing. On PGlite all connections share one
 * session, where the lock is re-entrant and excludes nobody, so each
 * migration's transaction (which `BatchQueue` runs alone) checks its version
 * again before applying it.
 */
export async function migrate(sql: Sql, migrations: readonly Migration[]): Promise<number[]> {
  checkSequence(migrations);
  // postgres.js 3.4.9 never settles a reserve() that has to open a new
  // connection when fetch_types is off (porsager/postgres#751), so open one
  // first; reserve() then takes that idle connection.
  await sql`SELECT 1`;
  const connection = await sql.reserve();
  try {
    // A constant, so inlined; a bigint beyond 2^53 does not pass as a JS number.
    await connection.unsafe(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    try {
      return await migrateLocked(connection, migrations);
    } finally {
      // Fails only when the connection is gone, and the server dropped the lock with it.
      await connection.unsafe(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`).catch(() => {});
    }
  } finally {
    connection.release();
  }
}

/** {@link migrate} under the lock, on the reserved connection. */
async function migrateLocked(sql: Sql, migrations: readonly Migration[]): Promise<number[]> {
  await sql`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
  const applied = await sql<{ version: number; checksum: string }[]>`
    SELECT version, checksum FROM schema_migrations ORDER BY version`;
  const known = new Map(migrations.map((m) => [m.version, m]));
  for (const row of applied) {
    const migration = known.get(row.version);
    if (!migration) {
      throw new MigrationError("UNKNOWN_APPLIED", `database has migration ${row.version}, which this code does not know`);
    }
    if (migration.checksum !== row.checksum) {
      throw new MigrationError("CHANGED", `migration ${row.version} (${migration.name}) changed after it was applied`);
    }
  }
  const done = new Set(applied.map((r) => r.version));
  const ran: number[] = [];
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    if (await applyOne(sql, migration)) ran.push(migration.version);
  }
  return ran;
}

/**
 * One migration and its record in one transaction, begun by hand: a reserved
 * connection of postgres.js 3.4.9 has no `begin` at run time, whatever its
 * types say. Returns false when the version was recorded meanwhile (PGlite;
 * see {@link migrate}).
 */
async function applyOne(sql: Sql, migration: Migration): Promise<boolean> {
  await sql`BEGIN`;
  try {
    const recorded = await sql`SELECT 1 FROM schema_migrations WHERE version = ${migration.version}`;
    if (recorded.length === 0) {
      await sql.unsafe(migration.sql);
      await sql`
        INSERT INTO schema_migrations (version, name, checksum)
        VALUES (${migration.version}, ${migration.name}, ${migration.checksum})`;
    }
    await sql`COMMIT`;
    return recorded.length === 0;
  } catch (error) {
    await sql`ROLLBACK`.catch(() => {});
    throw error;
  }
}
