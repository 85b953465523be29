// Values read at scrape time: whether PostgreSQL answers (database_up) and
// this process's MAX_CONNECTIONS (websocket_connections_limit), so that the
// alerts "PostgreSQL unreachable" and "connections near capacity" work on an
// idle process too.
import type { Config } from "../core/config.ts";
import { ping } from "../sql/queries.ts";
import { withTimeout } from "../sql/db.ts";
import { createWorkerdSql } from "../sql/workerd.ts";
import { metrics } from "./registry.ts";

const PROBE_TIMEOUT_MS = 2000;

export async function probe(config: Config): Promise<void> {
  metrics.connectionsLimit.set(config.maxConnections);
  if (!config.databaseUrl) {
    metrics.databaseUp.set(0);
    return;
  }
  const sql = createWorkerdSql(config.databaseUrl, { max: 1, idleTimeout: 1, connectTimeout: 2 });
  try {
    await withTimeout(ping(sql), PROBE_TIMEOUT_MS, "database probe");
    metrics.databaseUp.set(1);
  } catch {
    metrics.databaseUp.set(0);
  } finally {
    void sql.end({ timeout: 1 }).catch(() => {});
  }
}
