import { cloudflareSocket } from "./cf-socket.ts";
import { createSql, type Sql, type SqlOptions } from "./db.ts";

/** A client for code running in workerd (the Worker and the rooms). */
export function createWorkerdSql(url: string, options: Omit<SqlOptions, "socket"> = {}): Sql {
  return createSql(url, { ...options, socket: cloudflareSocket });
}
