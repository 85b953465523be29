// For the client's unit tests, not part of the package (the build starts from
// index.ts): a fetch whose answers the test gives, and unsigned JWTs.
import type { FetchLike } from "./api.ts";

/** One request the client made. */
export interface Call {
  method: string;
  /** Path and query. */
  path: string;
  authorization: string | undefined;
  json: unknown;
}

/** An answer: a status, a JSON body, headers; or an error thrown as a network failure. */
export type Answer = { status: number; json?: unknown; headers?: Record<string, string> } | Error;

/** A fetch that records each call and answers it with `answer`. */
export function fakeFetch(answer: (call: Call) => Answer): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: FetchLike = async (input, init = {}) => {
    const url = new URL(input);
    const call: Call = {
      method: init.method ?? "GET",
      path: url.pathname + url.search,
      authorization: init.headers?.Authorization,
      json: init.body === undefined ? undefined : (JSON.parse(init.body) as unknown),
    };
    calls.push(call);
    const given = answer(call);
    if (given instanceof Error) throw given;
    const headers = new Map(Object.entries(given.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    return {
      status: given.status,
      headers: { get: (name: string) => headers.get(name.toLowerCase()) ?? null },
      text: async () => (given.json === undefined ? "" : JSON.stringify(given.json)),
    };
  };
  return { fetch, calls };
}

/** A JWT with these claims (seconds) and no valid signature: the client only reads its timing. */
export function unsignedJwt(claims: { iat: number; exp: number; sub?: string }): string {
  const part = (value: unknown) => btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.signature`;
}
