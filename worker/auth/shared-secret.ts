import { bearerToken } from "./middleware.ts";

/** Whether an `Authorization: Bearer …` header carries `expected`, compared in constant time. */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  const encoder = new TextEncoder();
  const given = encoder.encode(bearerToken(header) ?? "");
  const wanted = encoder.encode(expected);
  return given.byteLength === wanted.byteLength && crypto.subtle.timingSafeEqual(given, wanted);
}
