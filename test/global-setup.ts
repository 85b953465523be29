// One database for the whole run: TEST_DATABASE_URL when set (CI points it at
// a real PostgreSQL 15), otherwise the embedded PGlite server in memory.
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../scripts/embedded-pg.ts";
import { createSql } from "../sql/db.ts";
import { loadMigrations, migrate } from "../sql/migrate.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    databaseKind: "postgresql" | "embedded";
  }
}

let embedded: EmbeddedPostgres | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.TEST_DATABASE_URL;
  if (!url) {
    embedded = await startEmbeddedPostgres({ port: 0 });
    url = embedded.url;
  }
  const sql = createSql(url);
  try {
    await migrate(sql, await loadMigrations());
  } finally {
    await sql.end({ timeout: 5 });
  }
  project.provide("databaseUrl", url);
  project.provide("databaseKind", embedded ? "embedded" : "postgresql");
  console.log(`tests use ${embedded ? "the embedded PGlite" : "PostgreSQL at TEST_DATABASE_URL"}`);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
}
