// The chat page in the self-hosted build: `npm run build:workerd` embeds the
// page (dist/web) into config.capnp as an asset service bound to the Worker
// as ASSETS, and `npm run build:binary` compiles it in. Both runtimes here
// whatever ROOMCAST_RUNTIME says: under wrangler dev, Workers static assets
// serve it (worker/page.test.ts, test/browser/).
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startServer, type RunningServer } from "../support/server.ts";

const outDir = inject("workerdOutDir");

/** The page's files in the build, as paths under the site's root (`/index.html`, `/assets/…`). */
async function builtFiles(): Promise<string[]> {
  const web = join(outDir, "web");
  const entries = await readdir(web, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(web.length));
}

describe("the self-hosted build's asset service", () => {
  it("embeds every file of the page", async () => {
    const files = await builtFiles();
    expect(files).toContain("/index.html");
    expect(files.some((f) => /^\/assets\/app-[A-Z0-9]+\.js$/.test(f))).toBe(true);
    const config = await readFile(join(outDir, "config.capnp"), "utf8");
    const module = await readFile(join(outDir, "assets.js"), "utf8");
    for (const file of files) {
      expect(config, file).toContain(`data = embed "web${file}"`);
      expect(module, file).toContain(`[${JSON.stringify(file)}, `);
    }
    expect(config).toContain('(name = "ASSETS", service = "assets")');
  });
});

describe.each(["workerd", "binary"] as const)("the chat page on %s", (runtime) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ DATABASE_URL: inject("databaseUrl") }, runtime);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("is served at / with the page's policy, and its files with their types, byte for byte", async () => {
    const page = await fetch(`${server.base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    expect(page.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(await page.text()).toBe(await readFile(join(outDir, "web/index.html"), "utf8"));
    const assets = (await builtFiles()).filter((f) => f.startsWith("/assets/"));
    for (const file of assets) {
      const answer = await fetch(`${server.base}${file}`);
      expect(answer.status, file).toBe(200);
      expect(answer.headers.get("Content-Type"), file).toMatch(/^(text\/javascript|text\/css|application\/json);/);
      expect(Buffer.from(await answer.arrayBuffer()).equals(await readFile(join(outDir, "web", file))), file).toBe(true);
    }
    const head = await fetch(`${server.base}${assets[0] ?? ""}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get("Content-Length"))).toBeGreaterThan(0);
  });

  it("keeps the API's answers for everything else", async () => {
    for (const path of ["/assets/missing-00000000.js", "/index.html", "/assets.js", "/web/index.html", "/config.capnp"]) {
      const answer = await fetch(`${server.base}${path}`);
      expect(answer.status, path).toBe(404);
      expect(await answer.json(), path).toEqual({ error: { code: "not_found", message: "no such route" } });
    }
    expect(await (await fetch(`${server.base}/healthz`)).json()).toEqual({ status: "ok" });
  });
});
