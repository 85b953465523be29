import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, signUp } from "../test/support/api.ts";
import { PAGE_CSP } from "./page.ts";
import { SECURE_HEADERS } from "./secure-headers.ts";

/** The page's script and stylesheet, as index.html names them (content-hashed by npm run build:web). */
async function assetPaths(): Promise<string[]> {
  const html = await (await call("/")).text();
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] ?? "");
}

describe("the chat page", () => {
  it("is served at / as HTML with its own policy, nosniff and no framing", async () => {
    const page = await call("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("Content-Security-Policy")).toBe(PAGE_CSP);
    expect(page.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(page.headers.get("X-Frame-Options")).toBe("DENY");
    expect(page.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(page.headers.get("Cache-Control")).toBe("no-cache");
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html>/i);
    // No inline script or style: the policy would block them.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it("allows nothing inline and nothing from elsewhere", () => {
    const directives = new Map(PAGE_CSP.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1).join(" ")]));
    expect(directives.get("default-src")).toBe("'none'");
    expect(directives.get("script-src")).toBe("'self'");
    expect(directives.get("style-src")).toBe("'self'");
    expect(directives.get("connect-src")).toBe("'self'");
    expect(directives.get("frame-ancestors")).toBe("'none'");
    expect(PAGE_CSP).not.toMatch(/unsafe|\*|https?:/);
  });

  it("serves the files index.html names with their types, cached for good", async () => {
    const paths = await assetPaths();
    expect(paths.map((p) => p.replace(/-[A-Z0-9]{8}\./, "-HASH."))).toEqual(["/assets/style-HASH.css", "/assets/app-HASH.js"]);
    for (const path of paths) {
      const file = await call(path);
      expect(file.status, path).toBe(200);
      expect(file.headers.get("Content-Type"), path).toBe(
        path.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8",
      );
      expect(file.headers.get("Cache-Control"), path).toBe("public, max-age=31536000, immutable");
      expect(file.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
      expect((await file.text()).length, path).toBeGreaterThan(0);
    }
    const head = await call(paths[0] ?? "", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("answers a file that is not there, or not a page file, with the API's JSON 404", async () => {
    for (const path of [
      "/assets/nope-12345678.js",
      "/assets/",
      "/assets/.hidden.js",
      "/index.html",
      "/favicon.ico",
      "/assets/x.txt",
      "/web/index.html",
    ]) {
      const answer = await call(path);
      expect(answer.status, path).toBe(404);
      expect(answer.headers.get("Content-Type"), path).toContain("application/json");
      expect(((await answer.json()) as { error: { code: string } }).error.code, path).toBe("not_found");
      expect(answer.headers.get("Content-Security-Policy"), path).toBe(SECURE_HEADERS["Content-Security-Policy"]);
    }
  });

  it("leaves the API's answers as they were: JSON under the strict policy", async () => {
    const { token } = await signUp();
    for (const [path, status] of [
      ["/healthz", 200],
      ["/rooms", 200],
      ["/auth/me", 200],
      ["/rooms/none-here", 404],
    ] as const) {
      const answer = await call(path, { token });
      expect(answer.status, path).toBe(status);
      expect(answer.headers.get("Content-Type"), path).toContain("application/json");
      expect(answer.headers.get("Content-Security-Policy"), path).toBe(SECURE_HEADERS["Content-Security-Policy"]);
      expect(answer.headers.get("Cache-Control"), path).toBe("no-store");
    }
    const post = await call("/", { method: "POST" });
    expect(post.status).toBe(404);
    expect(post.headers.get("Content-Type")).toContain("application/json");
  });

  it("comes from the ASSETS binding", async () => {
    const html = await env.ASSETS.fetch("http://assets.local/index.html");
    expect(html.status).toBe(200);
    expect(await html.text()).toContain("/assets/app-");
  });
});
