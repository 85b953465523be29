// Structured logs: one JSON object per line on stdout (workerd and wrangler
// print them as they are). Fields are chosen by the caller; never a token, a
// password, a query string or a body.

/** A request id: the client's X-Request-Id when it is a plain short token (nginx's $request_id), else a new one. */
export function requestIdOf(header: string | undefined | null): string {
  return header && /^[\w.-]{1,64}$/.test(header) ? header : crypto.randomUUID();
}

/** Writes one log line. */
export function logEvent(msg: string, fields: Record<string, string | number | boolean | undefined>): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), level: "info", msg, ...fields }));
}
