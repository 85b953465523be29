// Structured logs: one JSON object per line on stdout (workerd and wrangler
// print them as they are). Fields are chosen by the caller; never a token, a
// password, a query string or a body.

/** A request id: the client's X-Request-Id when it is a plain short token (nginx's $request_id), else a new one. */
export function requestIdOf(header: string | undefined | null): string {
  return header && /^[\w.-]{1,64}$/.test(header) ? header : crypto.randomUUID();
}

type Fields = Record<string, string | number | boolean | undefined>;

/** Writes one log line. */
export function logEvent(msg: string, fields: Fields, level: "info" | "debug" = "info"): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
}

/**
 * Writes a line that is per request or per socket only when LOG_LEVEL is
 * `debug`: at the origin's churn that is thousands of lines a second, and
 * a profile of the seed load had logging among the hottest functions of an
 * upgrade. Centrifugo logs connections at debug level for the same reason;
 * nginx's access log has every request.
 */
export function logDebug(config: { logLevel: "info" | "debug" }, msg: string, fields: Fields): void {
  if (config.logLevel === "debug") logEvent(msg, fields, "debug");
}
