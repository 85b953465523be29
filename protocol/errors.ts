import { HTTP_ERRORS, type ErrorBody, type HttpErrorCode } from "./codes.ts";

/** The JSON body of an HTTP error: `{"error":{"code":…,"message":…}}`. */
export function errorBody(code: HttpErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

/**
 * The HTTP answer for an error code, whoever gives it (the Worker, a room):
 * the code's status from {@link HTTP_ERRORS}, the JSON {@link errorBody},
 * `headers`, and the headers the contract adds unless `headers` has them:
 * `WWW-Authenticate: Bearer realm="roomcast"` on 401, `Retry-After: 5` on
 * 429 and 503.
 */
export function errorResponse(code: HttpErrorCode, message: string, headers: Record<string, string> = {}): Response {
  const status = HTTP_ERRORS[code];
  const extra: Record<string, string> = { ...headers };
  if (status === 401) extra["WWW-Authenticate"] ??= 'Bearer realm="roomcast"';
  if (status === 503 || status === 429) extra["Retry-After"] ??= "5";
  return Response.json(errorBody(code, message), { status, headers: extra });
}
