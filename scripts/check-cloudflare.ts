// `npm run check:cloudflare`: what `npm run deploy` would upload, built with
// `wrangler deploy --dry-run --outdir`, checked against Cloudflare's Worker
// size limits (compressed: 3 MB on the Free plan, 10 MB on Paid; 64 MB
// uncompressed), and its startup against the 1 s limit is left to Cloudflare.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { wranglerBin } from "./runtime.ts";

const FREE_COMPRESSED = 3 * 1024 * 1024;
const PAID_COMPRESSED = 10 * 1024 * 1024;
const UNCOMPRESSED = 64 * 1024 * 1024;

const outDir = mkdtempSync(join(tmpdir(), "roomcast-cf-"));
try {
  execFileSync(process.execPath, [wranglerBin(), "deploy", "--dry-run", "--outdir", outDir, "--var", "ENVIRONMENT:production"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const modules = readdirSync(outDir).filter((f) => /\.(m?js|wasm)$/.test(f));
  if (modules.length === 0) throw new Error("wrangler wrote no module");
  const raw = Buffer.concat(modules.map((f) => readFileSync(join(outDir, f))));
  const compressed = gzipSync(raw, { level: 9 }).length;
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  console.log(`check:cloudflare: ${modules.join(", ")}: ${kib(raw.length)} raw, ${kib(compressed)} gzip`);
  if (raw.length > UNCOMPRESSED) throw new Error(`bundle is over the 64 MB uncompressed limit`);
  if (compressed > PAID_COMPRESSED) throw new Error(`bundle is over the 10 MB compressed limit (Paid plan)`);
  if (compressed > FREE_COMPRESSED) console.warn("check:cloudflare: over the 3 MB Free-plan limit; fits the Paid plan");
  else console.log("check:cloudflare: fits the Free (3 MB) and Paid (10 MB) compressed limits");
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
