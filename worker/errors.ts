import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { errorResponse, HTTP_ERRORS, type HttpErrorCode } from "../protocol/index.ts";
import { isConnectionError } from "../sql/db.ts";
import type { Config } from "../core/config.ts";
import type { AppEnv } from "./context.ts";
import { reportError } from "../core/sentry.ts";

/** The one error type routes throw; `onError` turns it into the contract's JSON body. */
export class ApiError extends HTTPException {
  readonly code: HttpErrorCode;
  readonly headers: Record<string, string>;
  constructor(code: HttpErrorCode, message: string, headers: Record<string, string> = {}) {
    super(HTTP_ERRORS[code], { message });
    this.code = code;
    this.headers = headers;
  }
}

/** `app.onError`: known errors keep their code; the rest become `internal` without details. */
export function handleError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof ApiError) return errorResponse(error.code, error.message, error.headers);
  if (error instanceof HTTPException) {
    // Hono's own exceptions, e.g. a malformed JSON body.
    return error.status === 400
      ? errorResponse("invalid_json", "request body is not valid JSON")
      : errorResponse("internal", "internal error");
  }
  if (isConnectionError(error)) {
    console.error(`${c.req.method} ${c.req.routePath}: database unavailable: ${error.message}`);
    return errorResponse("database_unavailable", "database unavailable, retry later");
  }
  console.error(`${c.req.method} ${c.req.routePath}: ${error.name}: ${error.message}`);
  // The config this request parsed; a request whose config failed to parse has none to report with.
  const config: Config | undefined = c.get("config");
  if (config)
    reportError(config, error, {
      request: c.req.raw,
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
      where: `${c.req.method} ${c.req.routePath}`,
    });
  return errorResponse("internal", "internal error");
}
