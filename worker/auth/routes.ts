import { Hono } from "hono";
import { Credentials, LoginRequest, type LoginResponse, type RegisterResponse, type TicketResponse } from "../../protocol/index.ts";

import { clientAddress } from "../client-address.ts";
import { configOf, database, readBody, type AppContext, type AppEnv } from "../context.ts";
import { ApiError } from "../errors.ts";
import { spendAttempts, type Charge } from "../throttle.ts";
import { issueToken, signingKey } from "../../core/tokens.ts";
import { requireUser } from "./middleware.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import { DECOY_HASH, hashPassword, verifyPassword } from "./password.ts";
import { newTicket, TICKET_TTL_MS, ticketHash } from "./tickets.ts";

/** `/auth/*`: register, login, me, ticket. */
export const authRoutes = new Hono<AppEnv>()
  .post("/register", async (c) => {
    const { username, password } = await readBody(c, Credentials);
    // Before the hash; a registration always counts.
    await throttle(c, authCharges(c));
    const user = await (
      await database(c)
    ).insertUser({
      id: crypto.randomUUID(),
      username,
      passwordHash: await hashPassword(password),
    });
    if (!user) throw new ApiError("username_taken", "username is taken");
    return c.json({ user } satisfies RegisterResponse, 201);
  })
  .post("/login", async (c) => {
    const { username, password } = await readBody(c, LoginRequest);
    // Before the lookup and the hash, and the same for unknown usernames.
    const giveBack = await throttle(c, authCharges(c, username));
    const found = await (await database(c)).findUserByUsername(username);
    // Unknown users cost the same PBKDF2 work and get the same answer.
    const valid = await verifyPassword(password, found?.passwordHash ?? DECOY_HASH);
    if (!found || !valid) {
      metrics.authRequests.inc({ result: "failure", reason: "invalid_credentials" });
      throw new ApiError("invalid_credentials", "invalid username or password");
    }
    metrics.authRequests.inc({ result: "success", reason: "login" });
    // Only failed logins count: people behind one address (an office, a
    // carrier's NAT) who know their passwords are not held back by each other.
    giveBack();
    const config = configOf(c);
    const user = { id: found.id, username: found.username };
    const { token, expiresAt } = await issueToken(user, signingKey(c.env, config), config);
    return c.json({ token, expiresAt: expiresAt.toISOString(), user } satisfies LoginResponse);
  })
  .get("/me", requireUser, (c) => c.json({ user: c.get("user") }))
  .post("/ticket", requireUser, async (c) => {
    const ticket = newTicket();
    const expiresAt = new Date(Date.now() + TICKET_TTL_MS);
    await (await database(c)).insertTicket({ hash: await ticketHash(ticket), userId: c.get("user").id, expiresAt });
    return c.json({ ticket, expiresAt: expiresAt.toISOString() } satisfies TicketResponse);
  });

/**
 * The buckets a login or registration is counted in: its client address
 * (AUTH_ADDRESS_LIMIT, when the address is known) and, for a login, the
 * username as sent (LOGIN_ACCOUNT_LIMIT), whether or not it exists.
 */
function authCharges(c: AppContext, username?: string): Charge[] {
  const config = configOf(c);
  const charges: Charge[] = [];
  const address = config.authAddressLimit ? clientAddress(c) : undefined;
  if (config.authAddressLimit && address) charges.push({ limit: "auth-address", key: address, rate: config.authAddressLimit });
  if (config.loginAccountLimit && username !== undefined)
    charges.push({ limit: "login-account", key: username, rate: config.loginAccountLimit });
  return charges;
}

/** Spends the attempt, counting a refusal as a failed authentication. */
async function throttle(c: AppContext, charges: readonly Charge[]): Promise<() => void> {
  try {
    return await spendAttempts(c, charges);
  } catch (error) {
    if (error instanceof ApiError && error.code === "rate_limited") metrics.authRequests.inc({ result: "failure", reason: "rate_limited" });
    throw error;
  }
}
