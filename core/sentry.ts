// Error reporting to Sentry (or any Sentry-compatible collector) through
// toucan-js, the Sentry client built for Workers. Only unexpected errors are
// reported (the `internal` 500s of the Worker and failed frames in rooms);
// refusals with a contract code are not. Nothing secret leaves: no request
// body, no cookies, and of the headers only harmless ones.
import { Toucan, requestDataIntegration } from "toucan-js";
import type { Config } from "./config.ts";

const SAFE_HEADERS = ["user-agent", "content-type", "content-length", "accept", "origin", "upgrade"];

/** Reports `error` when SENTRY_DSN is set; a no-op otherwise. */
export function reportError(
  config: Config,
  error: unknown,
  scope: { request?: Request; waitUntil: (promise: Promise<unknown>) => void; where: string },
): void {
  if (!config.sentryDsn) return;
  const sentry = new Toucan({
    dsn: config.sentryDsn,
    environment: config.environment,
    release: config.release,
    request: scope.request,
    context: { waitUntil: scope.waitUntil, request: scope.request },
    integrations: [
      requestDataIntegration({
        allowedHeaders: SAFE_HEADERS,
        allowedCookies: [],
        allowedSearchParams: /^(after|before|limit|lastSeq)$/,
        allowedIps: false,
      }),
    ],
  });
  sentry.setTag("where", scope.where);
  sentry.captureException(error);
}
