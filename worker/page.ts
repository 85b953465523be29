// The chat page (web/, built into dist/web by `npm run build:web`), served
// from the ASSETS binding: Workers static assets on Cloudflare and under
// wrangler dev, the generated asset Worker of the self-hosted build
// (scripts/workerd-config.ts). wrangler.toml runs the Worker first for every
// request, so only these two routes reach the assets and every other path
// stays the API's (unknown ones its JSON 404).
//
// The page gets a policy of its own: scripts, styles and connections from
// its own origin only (connect-src 'self' covers same-origin ws: and wss:
// in current browsers, CSP Level 3), nothing inline. The other hardening
// headers come from secureHeaders, which keeps what is set here.
import { Hono } from "hono";
import type { AppContext, AppEnv } from "./context.ts";
import { ApiError } from "./errors.ts";

/** Content-Security-Policy of the page and its files. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The HTML is revalidated on every load; the files it names carry a content hash in their names. */
const HTML_CACHE = "no-cache";
const HASHED_CACHE = "public, max-age=31536000, immutable";

/** The only kinds of file served; with nosniff, a script needs a script type. */
const TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  map: "application/json; charset=utf-8",
};

/** `GET /` and `GET /assets/<file>` (Hono answers HEAD from them, without the body). */
export const pageRoutes = new Hono<AppEnv>()
  .get("/", (c) => serve(c, "/index.html", HTML_CACHE))
  .get("/assets/:file", (c) => serve(c, `/assets/${c.req.param("file")}`, HASHED_CACHE));

/** A file name build:web writes: no dot files, no directories, no escapes. */
const FILE_NAME = /^\/(?:index\.html|assets\/[A-Za-z0-9][A-Za-z0-9._-]*)$/;

async function serve(c: AppContext, path: string, cache: string): Promise<Response> {
  const type = TYPES[path.slice(path.lastIndexOf(".") + 1)];
  if (!type || !FILE_NAME.test(path)) throw new ApiError("not_found", "no such route");
  const file = await c.env.ASSETS.fetch(new Request(new URL(path, c.req.url)));
  if (file.status !== 200) {
    await file.body?.cancel();
    throw new ApiError("not_found", "no such route");
  }
  const headers = new Headers({ "Content-Type": type, "Cache-Control": cache, "Content-Security-Policy": PAGE_CSP });
  const length = file.headers.get("Content-Length");
  if (length) headers.set("Content-Length", length);
  const etag = file.headers.get("ETag");
  if (etag) headers.set("ETag", etag);
  return new Response(file.body, { status: 200, headers });
}
