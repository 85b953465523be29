// Tokens signed like the Worker's, with a chosen lifetime (for expiry tests in workerd).
import { SignJWT } from "jose";
import type { User } from "../../protocol/index.ts";

/** The JWT_SECRET vitest.config.ts gives the workers project. */
export const TEST_JWT_SECRET = "test-secret-test-secret-test-secret";

/** A token for `user` that expires `seconds` from now. */
export async function tokenExpiringIn(user: User, seconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ name: user.username })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(user.id)
    .setIssuer("roomcast")
    .setAudience("roomcast")
    .setIssuedAt(now)
    .setExpirationTime(now + seconds)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}
