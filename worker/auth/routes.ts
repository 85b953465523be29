import { Hono } from "hono";
import { Credentials, LoginRequest, type LoginResponse, type RegisterResponse, type TicketResponse } from "../../protocol/index.ts";

import { configOf, database, readBody, type AppEnv } from "../context.ts";
import { ApiError } from "../errors.ts";
import { issueToken, signingKey } from "../../core/tokens.ts";
import { requireUser } from "./middleware.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import { DECOY_HASH, hashPassword, verifyPassword } from "./password.ts";
import { newTicket, TICKET_TTL_MS, ticketHash } from "./tickets.ts";

/** `/auth/*`: register, login, me, ticket. */
export const authRoutes = new Hono<AppEnv>()
  .post("/register", async (c) => {
    const { username, password } = await readBody(c, Credentials);
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
    const found = await (await database(c)).findUserByUsername(username);
    // Unknown users cost the same PBKDF2 work and get the same answer.
    const valid = await verifyPassword(password, found?.passwordHash ?? DECOY_HASH);
    if (!found || !valid) {
      metrics.authRequests.inc({ result: "failure", reason: "invalid_credentials" });
      throw new ApiError("invalid_credentials", "invalid username or password");
    }
    metrics.authRequests.inc({ result: "success", reason: "login" });
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
