// The embedded default database: PGlite served over the PostgreSQL wire protocol.
import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketHandler } from "@electric-sql/pglite-socket";

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

type QueryQueue = ConstructorParameters<typeof PGLiteSocketHandler>[0]["queryQueue"];

interface Pending {
  handlerId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (error: Error) => void;
}

// Frontend message types that open or continue an extended-query batch; the
// batch ends with Sync ('S'). Simple queries ('Q') are atomic on their own.
const EXTENDED = new Set(["P", "B", "D", "E", "C", "H", "F"]);

/**
 * PGlite has one session. pglite-socket 0.2.17 queues each protocol message
 * on its own and keeps a connection's turn only inside a transaction, so two
 * clients' Parse/Bind/Execute can interleave on the unnamed statement
 * ("bind message supplies 1 parameters, but prepared statement "" requires
 * 16", seen here under parallel tests). This queue gives one connection the
 * session from its first extended message through its Sync, and for the
 * whole of an open transaction.
 */
export class BatchQueue {
  readonly #db: PGlite;
  #pending: Pending[] = [];
  #owner: number | null = null;
  #busy = false;

  constructor(db: PGlite) {
    this.#db = db;
  }

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ handlerId, message, onData, resolve, reject });
      void this.#pump();
    });
  }

  getQueueLength(): number {
    return this.#pending.length;
  }

  clearQueueForHandler(handlerId: number): void {
    this.#pending = this.#pending.filter((p) => {
      if (p.handlerId !== handlerId) return true;
      p.reject(new Error("handler disconnected"));
      return false;
    });
  }

  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.#owner !== handlerId) return;
    if (this.#db.isInTransaction()) await this.#db.exec("ROLLBACK");
    this.#owner = null;
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (;;) {
        const index = this.#owner === null ? 0 : this.#pending.findIndex((p) => p.handlerId === this.#owner);
        const next = index >= 0 ? this.#pending.splice(index, 1)[0] : undefined;
        if (!next) return;
        let bytes = 0;
        try {
          await this.#db.runExclusive(() =>
            this.#db.execProtocolRawStream(next.message, {
              onRawData: (data: Uint8Array) => {
                bytes += data.length;
                next.onData(data);
              },
            }),
          );
        } catch (error) {
          this.#owner = null;
          next.reject(error instanceof Error ? error : new Error(String(error)));
          continue;
        }
        const type = String.fromCharCode(next.message[0] ?? 0);
        if (EXTENDED.has(type) || this.#db.isInTransaction()) this.#owner = next.handlerId;
        else this.#owner = null;
        next.resolve(bytes);
      }
    } finally {
      this.#busy = false;
    }
  }
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
  const queue = new BatchQueue(db) as unknown as QueryQueue;
  const handlers = new Set<PGLiteSocketHandler>();
  const server: Server = createServer((socket) => {
    const handler = new PGLiteSocketHandler({ queryQueue: queue, closeOnDetach: true });
    handlers.add(handler);
    handler.addEventListener("close", () => handlers.delete(handler));
    handler.addEventListener("error", () => handlers.delete(handler));
    void handler.attach(socket);
  });
  // Above 1 so that the worker, each room and the migrator can hold a
  // connection at once; they all share PGlite's one session.
  server.maxConnections = options.maxConnections ?? 100;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      for (const handler of handlers) await handler.detach(true);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
    },
  };
}
