// Where the runtime's programs are: wrangler's CLI and the workerd binary
// wrangler itself runs (the same version for `npm start` and the self-hosted build).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/** wrangler's package exports hide its bin; it sits next to package.json. */
export function wranglerBin(): string {
  return join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
}

/** The workerd binary of wrangler's own workerd dependency. */
export function workerdBin(): string {
  const fromWrangler = createRequire(require.resolve("wrangler/package.json"));
  return join(dirname(fromWrangler.resolve("workerd/package.json")), "bin", "workerd");
}
