// Hardening headers on every answer of the Worker, errors included (the
// middleware wraps onError and notFound). The API's answers are JSON for
// programs, never pages, so the policy allows nothing: no scripts, no
// frames, no referrer, no caching (they carry tokens, tickets and private
// history). The chat page (worker/page.ts) sets its own
// Content-Security-Policy and Cache-Control, which are kept; the rest
// applies to it too.
//
// Not Hono's secureHeaders: it sets its headers on every response, and the
// 101 of a WebSocket upgrade comes from the room's fetch with immutable
// headers, so the upgrade would fail (a 101 has no body to protect anyway).
// Strict-Transport-Security is left to what terminates TLS (Cloudflare's
// edge, nginx): over plain HTTP it means nothing, and its scope is the
// deployment's choice.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./context.ts";

/** The headers, and their values, that every answer but a 101 carries. */
export const SECURE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
};

/** Adds {@link SECURE_HEADERS} to every answer but a 101, keeping a value a route set itself. */
export const secureHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  if (c.res.status === 101) return;
  try {
    setMissing(c.res.headers);
  } catch {
    // Immutable headers (a response passed through from a fetch): copy it.
    c.res = new Response(c.res.body, c.res);
    setMissing(c.res.headers);
  }
});

function setMissing(headers: Headers): void {
  for (const [name, value] of Object.entries(SECURE_HEADERS)) if (!headers.has(name)) headers.set(name, value);
}
