import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_JWT_SECRET } from "./test/support/tokens.ts";

// The projects share one database started by test/global-setup.ts.
// `npm test` runs four: "workers" runs the Worker and rooms inside workerd
// against the real wrangler.toml; "node" holds the migration runner, the
// room's plain-object unit tests and the end-to-end tests that start the
// server; "client" holds the client package's tests; "browser" drives the
// chat page in Debian's Chromium. "faults" and "security"
// (npm run test:faults, npm run test:security) start servers of their own.
export default defineConfig({
  test: {
    globalSetup: ["./test/global-setup.ts"],
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                DATABASE_URL: inject<string>("databaseUrl"),
                JWT_SECRET: TEST_JWT_SECRET,
                // Above the defaults (10/s, burst 20) so that ordering tests can
                // send 100 frames at once; the limiter test sends past these.
                RATE_LIMIT_PER_SECOND: "100",
                RATE_LIMIT_BURST: "200",
                // Small enough that tests reach past the room log into PostgreSQL.
                ROOM_LOG_RETENTION: "20,7d",
                // Short, so that token expiry on open sockets is testable.
                AUTH_GRACE: "2s",
                // Short, so that the end of the dedupe window is testable.
                DEDUPE_WINDOW: "3s",
                // Enables GET /metrics (worker/metrics.test.ts).
                METRICS_TOKEN: "test-metrics-token",
              },
            },
          })),
        ],
        test: {
          name: "workers",
          // One file at a time: each runs workerd, and its timing tests (rate
          // limits, expiry) need the CPU. The node and client projects come
          // after it, two files at a time (their end-to-end tests mostly wait
          // on servers and timers), then the browser.
          sequence: { groupOrder: 0 },
          maxWorkers: 1,
          include: ["protocol/**/*.test.ts", "core/**/*.test.ts", "worker/**/*.test.ts", "durable-objects/**/*.test.ts"],
          // Plain-object tests of the room's parts run in the node project.
          exclude: ["**/*.unit.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          sequence: { groupOrder: 1 },
          maxWorkers: 2,
          include: [
            "durable-objects/**/*.unit.test.ts",
            "sql/**/*.test.ts",
            "metrics-bridge/**/*.test.ts",
            "loadtest/**/*.test.ts",
            "test/**/*.test.ts",
          ],
          exclude: ["test/faults/**", "test/security/**", "test/browser/**"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The client package's tests: unit tests on a fake WebSocket, fetch and
        // timers, and client/real-server.test.ts against a real server.
        test: {
          name: "client",
          environment: "node",
          sequence: { groupOrder: 1 },
          maxWorkers: 2,
          include: ["client/**/*.test.ts"],
          exclude: ["client/dist/**", "client/node_modules/**"],
        },
      },
      {
        // The web page in Debian's Chromium (playwright-core), against a
        // server started as `npm start` does; one file at a time.
        test: {
          name: "browser",
          environment: "node",
          sequence: { groupOrder: 2 },
          include: ["test/browser/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // `npm run test:faults`: kill -9, PostgreSQL outages, partitions,
        // hibernation and token expiry under load; one file at a time.
        test: {
          name: "faults",
          environment: "node",
          include: ["test/faults/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
      {
        // `npm run test:security`: the adversarial suite and the protocol
        // fuzzer against a real server, over real HTTP and raw sockets; one
        // file at a time, each with a server of its own.
        test: {
          name: "security",
          environment: "node",
          include: ["test/security/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
