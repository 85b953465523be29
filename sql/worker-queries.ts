// The queries the Worker runs, by name: bound to a connection of the request
// (Cloudflare, through Hyperdrive's pool) or run by the process's database
// service on its long-lived connections (self-hosted and local), where a
// connection per request forked a PostgreSQL backend per login.
import type { Sql } from "./db.ts";
import * as queries from "./queries.ts";

const NAMES = [
  "consumeTicket",
  "findRoomAccess",
  "findUserByUsername",
  "insertMember",
  "insertRoom",
  "insertTicket",
  "insertUser",
  "listRoomsFor",
  "ping",
] as const;

/** A query's name. */
export type QueryName = (typeof NAMES)[number];

/** The Worker's queries, each taking the connection first (sql/queries.ts). */
export const WORKER_QUERIES: Pick<typeof queries, QueryName> = queries;

type Bound<Q> = {
  [K in keyof Q]: Q[K] extends (sql: Sql, ...args: infer A) => Promise<infer R> ? (...args: A) => Promise<R> : never;
};

/** The Worker's queries with the connection already given: what a route calls. */
export type Queries = Bound<typeof WORKER_QUERIES>;

/** True for the name of a Worker query (the service checks names that arrive over RPC). */
export function isQueryName(name: string): name is QueryName {
  return (NAMES as readonly string[]).includes(name);
}

/** Runs a query by name on `sql`. */
export function runQuery(sql: Sql, name: QueryName, args: readonly unknown[]): Promise<unknown> {
  const query = WORKER_QUERIES[name] as (sql: Sql, ...args: readonly unknown[]) => Promise<unknown>;
  return query(sql, ...args);
}

/** The queries over one connection. */
export function bindQueries(sql: Sql): Queries {
  return viaRunner((name, args) => runQuery(sql, name, args));
}

/** The queries over any runner of named queries (the database service's RPC). */
export function viaRunner(run: (name: QueryName, args: readonly unknown[]) => Promise<unknown>): Queries {
  const entries = NAMES.map((name) => [name, (...args: unknown[]) => run(name, args)]);
  // One cast for the whole table: each entry forwards its own arguments to the query of the same name.
  return Object.fromEntries(entries) as Queries;
}
