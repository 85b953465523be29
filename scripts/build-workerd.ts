// `npm run build:workerd`: the self-hosted build. wrangler bundles the Worker
// exactly as it would for Cloudflare (its [build] builds the page first);
// this script then copies the page's files beside the bundle and writes the
// workerd config (dist/workerd/config.capnp) from wrangler.toml, so that
// wrangler.toml stays the only place where settings are declared. Never edit
// the output.
import { execFileSync } from "node:child_process";
import { cp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { unstable_readConfig } from "wrangler";
import { ASSETS_DIRECTORY, ASSETS_MODULE, renderAssetModule, renderWorkerdConfig, type WorkerdBuild } from "./workerd-config.ts";
import { wranglerBin } from "./runtime.ts";

const outDir = resolve(process.env.WORKERD_OUT_DIR ?? "dist/workerd");
const bundleDir = join(outDir, "bundle");

await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });

// The same bundle `wrangler deploy` would upload (esbuild, nodejs_compat polyfills).
execFileSync(process.execPath, [wranglerBin(), "deploy", "--dry-run", "--outdir", bundleDir, "--config", "wrangler.toml"], {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
});

/** The parts of wrangler's resolved config this build reads. */
interface WranglerConfig {
  name?: string;
  compatibility_date?: string;
  compatibility_flags: string[];
  vars: Record<string, unknown>;
  durable_objects: { bindings: { name: string; class_name: string }[] };
  migrations: { new_sqlite_classes?: string[] }[];
  /** [assets]; wrangler resolves `directory` to an absolute path. */
  assets?: { directory?: string; binding?: string };
}
const config: WranglerConfig = unstable_readConfig({ config: "wrangler.toml" });
const modules = (await readdir(bundleDir)).filter((f) => /\.(js|mjs|wasm)$/.test(f)).sort();
const main = modules.find((f) => f === "index.js") ?? modules[0];
if (!main) throw new Error(`build:workerd: wrangler wrote no module to ${bundleDir}`);

// The page (wrangler.toml [assets]), embedded into the config by the asset service.
let assets: WorkerdBuild["assets"];
if (config.assets?.directory && config.assets.binding) {
  await cp(config.assets.directory, join(outDir, ASSETS_DIRECTORY), { recursive: true });
  const files = (await readdir(join(outDir, ASSETS_DIRECTORY), { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(join(outDir, ASSETS_DIRECTORY).length + 1))
    .sort();
  if (!files.includes("index.html")) throw new Error(`build:workerd: no index.html in ${config.assets.directory}`);
  await writeFile(join(outDir, ASSETS_MODULE), renderAssetModule(files));
  assets = { binding: config.assets.binding, files };
}

const sqliteClasses = new Set(config.migrations.flatMap((m) => m.new_sqlite_classes ?? []));
const build: WorkerdBuild = {
  name: config.name ?? "roomcast",
  compatibilityDate: config.compatibility_date ?? "2026-11-01",
  compatibilityFlags: config.compatibility_flags,
  modules: [main, ...modules.filter((m) => m !== main)].map((file) => ({ file: `bundle/${file}` })),
  // Self-hosting is production unless the environment says otherwise, as `npm run deploy` is.
  defaults: { ...stringVars(config.vars), ENVIRONMENT: "production" },
  durableObjects: config.durable_objects.bindings.map((b) => ({
    binding: b.name,
    className: b.class_name,
    sql: sqliteClasses.has(b.class_name),
  })),
  outboundAllow: (process.env.WORKERD_OUTBOUND_ALLOW ?? "private")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
  assets,
};
await writeFile(join(outDir, "config.capnp"), renderWorkerdConfig(build));
console.log(
  `build:workerd: wrote ${join(outDir, "config.capnp")} with ${build.modules.length} module(s) and ${assets?.files.length ?? 0} page file(s)`,
);

function stringVars(vars: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}
