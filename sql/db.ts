import postgres from "postgres";

/** A PostgreSQL client; the only type the rest of the code sees of the driver. */
export type Sql = postgres.Sql;

/** Options for {@link createSql}. */
export interface SqlOptions {
  /** Pool size; workerd code uses 1 per request or per object. */
  max?: number;
  /** Seconds to wait for a connection before failing. */
  connectTimeout?: number;
  /** Seconds an unused connection stays open. */
  idleTimeout?: number;
  /** A socket factory (see sql/workerd.ts); the driver's own socket otherwise. */
  socket?: (options: { host: string[]; port: number[]; ssl?: unknown }) => unknown;
}

/**
 * Creates a client. Prepared statements are off: PGlite's socket server
 * multiplexes all connections onto one session, where named statements of
 * two connections would collide, and Hyperdrive does not need them.
 */
export function createSql(url: string, options: SqlOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 1,
    prepare: false,
    fetch_types: false,
    connect_timeout: options.connectTimeout ?? 5,
    idle_timeout: options.idleTimeout ?? 20,
    onnotice: () => {},
    // `socket` is a documented option of postgres.js that its types omit.
    ...(options.socket ? ({ socket: options.socket } as object) : {}),
  });
}

/** True when the error came from the driver's network layer, not from SQL. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    code === "CONNECT_TIMEOUT" ||
    code === "CONNECTION_CLOSED" ||
    code === "CONNECTION_ENDED" ||
    code === "CONNECTION_DESTROYED" ||
    code === "ECONNREFUSED" ||
    /connect|network|socket/i.test(error.message)
  );
}

/** Rejects after `ms`: a PostgreSQL call that hangs (packets swallowed) must not hold its caller forever. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
