// One database for the whole run: TEST_DATABASE_URL when set (CI points it at
// a real PostgreSQL 15), otherwise the embedded PGlite server in memory. And
// one self-hosted build (npm run build:workerd) in a temporary directory, or
// the one ROOMCAST_TEST_BUILD names, for the end-to-end tests that run plain
// `workerd serve`.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
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
  const { outDir, binary } = await selfHostedBuild();
  project.provide("workerdOutDir", outDir);
  project.provide("roomcastBinary", binary);
  project.provide("databaseUrl", url);
  project.provide("databaseKind", embedded ? "embedded" : "postgresql");
  console.log(`tests use ${embedded ? "the embedded PGlite" : "PostgreSQL at TEST_DATABASE_URL"}`);
}

/**
 * The self-hosted build the tests run: ROOMCAST_TEST_BUILD, a directory
 * that already holds one (made by `.ci/run` once for its several test
 * runs), or a fresh one in a temporary directory, removed at the end.
 */
async function selfHostedBuild(): Promise<{ outDir: string; binary: string }> {
  const given = process.env.ROOMCAST_TEST_BUILD;
  if (given) {
    const binary = join(given, "roomcast");
    if (!existsSync(join(given, "config.capnp")) || !existsSync(binary)) {
      throw new Error(`ROOMCAST_TEST_BUILD=${given} holds no build (config.capnp and roomcast); unset it to build one`);
    }
    return { outDir: given, binary };
  }
  workerdOutDir = await mkdtemp(join(tmpdir(), "roomcast-workerd-"));
  buildSelfHosted(workerdOutDir);
  return { outDir: workerdOutDir, binary: join(workerdOutDir, "roomcast") };
}

/** `npm run build:workerd` and `npm run build:binary` into `outDir` (the binary as `outDir/roomcast`). */
function buildSelfHosted(outDir: string): void {
  execFileSync(process.execPath, ["scripts/build-workerd.ts"], {
    env: { ...process.env, WORKERD_OUT_DIR: outDir },
    stdio: ["ignore", "ignore", "inherit"],
  });
  execFileSync(process.execPath, ["scripts/build-binary.ts"], {
    env: { ...process.env, WORKERD_OUT_DIR: outDir, ROOMCAST_BINARY: join(outDir, "roomcast") },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (workerdOutDir) await rm(workerdOutDir, { recursive: true, force: true });
}
