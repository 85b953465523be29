import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The dependency rule of docs/architecture.md, as lint: a relative import that
 * climbs out of a part of the tree into a part it must not reach fails
 * `npm run lint`. Layers, lowest first: protocol; core (config, logs, error
 * reports, tokens); sql; metrics-bridge; durable-objects; worker. loadtest,
 * scripts and test sit beside them; nothing outside loadtest imports it. The
 * page (web/) reaches the server only through @roomcast/client.
 */
const climbInto = (parts) => `^(\\.\\./)+(${parts.join("|")})/`;
const climbOutsideOf = (allowed) => `^(\\.\\./)+(?!\\.\\./|${allowed.map((a) => a.replace(".", "\\.")).join("|")})`;

function layer(files, patterns, ignores = []) {
  return {
    files,
    ignores,
    rules: {
      "no-restricted-imports": ["error", { patterns: patterns.map(([regex, message]) => ({ regex, message })) }],
    },
  };
}

const notLoadtest = [climbInto(["loadtest"]), "only loadtest/ imports loadtest/ (docs/architecture.md)"];

export default tseslint.config(
  { ignores: ["node_modules", "dist", "client/dist", ".wrangler", ".data", "worker-configuration.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  layer(["protocol/**"], [["^\\.\\./", "protocol/ imports nothing of ours (docs/architecture.md)"]]),
  layer(["client/**"], [[climbOutsideOf(["protocol/"]), "client/ imports only protocol/ (docs/architecture.md)"]], ["client/**/*.test.ts"]),
  // The client's tests beside it also start real servers (test/support/), which the package never ships.
  layer(
    ["client/**/*.test.ts"],
    [[climbOutsideOf(["protocol/", "test/support/"]), "client/ imports only protocol/ (docs/architecture.md)"]],
  ),
  layer(["web/**"], [["^\\.\\./", "web/ imports only its own files and @roomcast/client (docs/architecture.md, docs/web.md)"]]),
  layer(["core/**"], [[climbOutsideOf(["protocol/", "package.json$"]), "core/ imports only protocol/ (docs/architecture.md)"]]),
  layer(
    ["sql/**"],
    [
      [
        climbInto(["worker", "durable-objects", "metrics-bridge"]),
        "sql/ imports neither worker/, durable-objects/ nor metrics-bridge/ (docs/architecture.md)",
      ],
      notLoadtest,
    ],
  ),
  layer(["metrics-bridge/**"], [[climbInto(["worker"]), "metrics-bridge/ never imports worker/ (docs/architecture.md)"], notLoadtest]),
  layer(["durable-objects/**"], [[climbInto(["worker"]), "durable-objects/ never imports worker/ (docs/architecture.md)"], notLoadtest]),
  layer(["worker/**", "scripts/**", "test/**", "*.ts", "*.js"], [notLoadtest]),
);
