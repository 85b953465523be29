/** The public contract v1: one definition shared by worker, room, client and load test. */
export * from "./codes.ts";
export * from "./limits.ts";
export * from "./model.ts";
export * from "./frames.ts";
export * from "./http.ts";
export * from "./errors.ts";
export * from "./backoff.ts";
