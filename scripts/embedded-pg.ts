// The embedded default database: PGlite served over the PostgreSQL wire protocol.
import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts PGlite on 127.0.0.1. `dataDir` undefined keeps the data in memory
 * (tests); otherwise it persists there. Port 0 picks a free port.
 */
export async function startEmbeddedPostgres(options: {
  dataDir?: string;
  port: number;
  maxConnections?: number;
}): Promise<EmbeddedPostgres> {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir);
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: options.port,
    // Above 1 so that the worker, each room and the migrator can hold a
    // connection at once; PGlite multiplexes them onto one session.
    maxConnections: options.maxConnections ?? 64,
  });
  await server.start();
  // getServerConn() answers "host:port" once listening (port 0 resolved).
  const port = Number(server.getServerConn().split(":").pop());
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
