import * as z from "zod";

/**
 * Stable error codes and close codes of the public contract (v1).
 * Clients branch on these strings and numbers; renaming one is a breaking change.
 */

/** HTTP status for every error code the HTTP API can answer with. */
export const HTTP_ERRORS = {
  invalid_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  token_expired: 401,
  forbidden: 403,
  origin_not_allowed: 403,
  not_found: 404,
  room_not_found: 404,
  user_not_found: 404,
  username_taken: 409,
  room_exists: 409,
  payload_too_large: 413,
  upgrade_required: 426,
  rate_limited: 429,
  internal: 500,
  database_unavailable: 503,
  overloaded: 503,
} as const;

/** An error code the HTTP API can answer with. */
export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** Error codes carried by `{"type":"error"}` WebSocket frames. */
export const FRAME_ERRORS = ["bad_request", "body_too_long", "rate_limited", "unauthorized", "overloaded", "internal"] as const;

/** An error code of a WebSocket error frame. */
export type FrameErrorCode = (typeof FRAME_ERRORS)[number];

/** WebSocket close codes (RFC 6455 and the 4xxx range of the contract). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  invalidPayload: 1007,
  tooBig: 1009,
  internal: 1011,
  serviceRestart: 1012,
  overloaded: 1013,
  slowConsumer: 4001,
  resync: 4000,
  badRequest: 4400,
  unauthorized: 4401,
  forbidden: 4403,
  authTimeout: 4408,
  rateLimited: 4429,
} as const;

/** A close code of the contract. */
export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** True for an error code of {@link HTTP_ERRORS}. */
export function isHttpErrorCode(code: unknown): code is HttpErrorCode {
  return typeof code === "string" && Object.hasOwn(HTTP_ERRORS, code);
}

/** The JSON body of every HTTP error. */
export const ErrorBody = z.object({
  error: z.object({ code: z.custom<HttpErrorCode>(isHttpErrorCode, "unknown error code"), message: z.string() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
