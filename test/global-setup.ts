// One database for the whole run: TEST_DATABASE_URL when set (CI points it at
// a real PostgreSQL 15), otherwise the embedded PGlite server in memory. And
// one self-hosted build (npm run build:workerd) in a temporary directory, for
// the end-to-end tests that run plain `workerd serve`.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../scripts/embedded-pg.ts";
import { createSql } from "../sql/db.ts";
import { loadMigrations, migrate } from "../sql/migrate.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    databaseKind: "postgresql" | "embedded";
    /** Output of `npm run build:workerd` made for this run. */
    workerdOutDir: string;
    /** `npm run build:binary` of that build. */
    roomcastBinary: string;
  }
}

let embedded: EmbeddedPostgres | undefined;
let workerdOutDir: string | undefined;

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
  workerdOutDir = await mkdtemp(join(tmpdir(), "roomcast-workerd-"));
  execFileSync(process.execPath, ["scripts/build-workerd.ts"], {
    env: { ...process.env, WORKERD_OUT_DIR: workerdOutDir },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const roomcastBinary = join(workerdOutDir, "roomcast");
  execFileSync(process.execPath, ["scripts/build-binary.ts"], {
    env: { ...process.env, WORKERD_OUT_DIR: workerdOutDir, ROOMCAST_BINARY: roomcastBinary },
    stdio: ["ignore", "ignore", "inherit"],
  });
  project.provide("workerdOutDir", workerdOutDir);
  project.provide("roomcastBinary", roomcastBinary);
  project.provide("databaseUrl", url);
  project.provide("databaseKind", embedded ? "embedded" : "postgresql");
  console.log(`tests use ${embedded ? "the embedded PGlite" : "PostgreSQL at TEST_DATABASE_URL"}`);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (workerdOutDir) await rm(workerdOutDir, { recursive: true, force: true });
}
