// `npm run build:web`: the chat page (web/, docs/web.md) into dist/web, the
// directory wrangler.toml's [assets] serves. The client package is built
// first (its exports point at client/dist), then esbuild bundles
// web/src/main.ts with it and web/style.css into content-hashed files under
// assets/, and index.html is written with their names. wrangler runs this
// before `dev` and `deploy` ([build]), so npm start, npm test's global setup
// and npm run build:workerd get a fresh page too.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { build } from "esbuild";

const started = performance.now();
// wrangler.toml's [assets] directory.
const outDir = resolve("dist/web");

// The page imports @roomcast/client as any user of the package would: the
// built files. Its build (tsc, about 3 s) runs only when a source is newer.
if (clientStale()) {
  const npm = npmCommand();
  execFileSync(npm.command, [...npm.args, "run", "--silent", "build:client"], { stdio: ["ignore", "inherit", "inherit"] });
}

// In place, never by removing the directory: a running `wrangler dev` (or a
// test run's build next to it) keeps serving from it. Same content, same name.
const assetsDir = join(outDir, "assets");
await mkdir(assetsDir, { recursive: true });
const result = await build({
  entryPoints: { app: "web/src/main.ts", style: "web/style.css" },
  outdir: assetsDir,
  entryNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  sourcemap: "linked",
  metafile: true,
  // Resolve @roomcast/client through node_modules and its exports, not through
  // web/tsconfig.json's paths (those point the type checker at its sources).
  tsconfigRaw: {},
  legalComments: "none",
  logLevel: "warning",
});

/** The public path of the output an entry point became, e.g. `/assets/app-5FJ2K3QX.js`. */
function outputOf(entry: string): string {
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (output.entryPoint === entry && !file.endsWith(".map")) return `/${relative(outDir, file)}`;
  }
  throw new Error(`build:web: no output for ${entry}`);
}

// index.html names the unhashed files; each must be there exactly once.
let html = await readFile("web/index.html", "utf8");
for (const [placeholder, entry] of [
  ["/assets/app.js", "web/src/main.ts"],
  ["/assets/style.css", "web/style.css"],
] as const) {
  if (html.split(`"${placeholder}"`).length !== 2) throw new Error(`build:web: web/index.html must name "${placeholder}" once`);
  html = html.replace(`"${placeholder}"`, `"${outputOf(entry)}"`);
}
// Written whole, then renamed over the old one: never half a page.
const staging = join(outDir, `.index.html.${process.pid}`);
await writeFile(staging, html);
await rename(staging, join(outDir, "index.html"));

// Files of earlier builds go once the new index.html no longer names them.
const files = Object.keys(result.metafile.outputs).map((f) => basename(f));
for (const old of await readdir(assetsDir)) if (!files.includes(old)) await rm(join(assetsDir, old), { force: true });

const ms = Math.round(performance.now() - started);
console.log(`build:web: wrote ${relative(process.cwd(), outDir)}/ (index.html, ${files.join(", ")}) in ${ms} ms`);

/** Whether client/dist is missing or older than a file it is built from (client/, protocol/). */
function clientStale(): boolean {
  const built = "client/dist/client/index.js";
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  const sources = ["client", "protocol"].flatMap((dir) =>
    readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((f) => !f.startsWith("dist") && !f.startsWith("node_modules") && /\.(ts|json)$/.test(f))
      .map((f) => join(dir, f)),
  );
  return sources.some((file) => statSync(file).mtimeMs > builtAt);
}

/** The npm that started this script (npm run, npm start), else the one on PATH. */
function npmCommand(): { command: string; args: string[] } {
  const cli = process.env.npm_execpath;
  if (cli?.endsWith(".js")) return { command: process.execPath, args: [cli] };
  return { command: cli ?? "npm", args: [] };
}
