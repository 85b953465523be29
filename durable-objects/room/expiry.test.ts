import { describe, expect, it } from "vitest";
import { connect, createRoom, signUp } from "../../test/support/api.ts";
import { tokenExpiringIn } from "../../test/support/tokens.ts";

// AUTH_GRACE is 2 s in the workers project (vitest.config.ts).
describe("token expiry on open sockets", () => {
  it("closes 4401 after exp + grace and delivers nothing more; a refreshed socket stays", async () => {
    const alice = await signUp("alice");
    const bob = await signUp("bob");
    const roomId = await createRoom(alice.token);
    const sender = await connect(roomId, alice.token);
    const expiring = await connect(roomId, await tokenExpiringIn(bob.user, 1));
    const refreshed = await connect(roomId, await tokenExpiringIn(bob.user, 1));
    await expiring.waitFor("welcome");
    await refreshed.waitFor("welcome");
    refreshed.send({ type: "auth", token: await tokenExpiringIn(bob.user, 3600) });

    const closed = await expiring.waitClose(10_000);
    expect(closed.code).toBe(4401);
    const receivedBefore = expiring.of("message").length;
    sender.send({ type: "send", clientMsgId: "after-expiry", body: "after" });
    await refreshed.until((f) => f.some((x) => x.type === "message" && x.clientMsgId === "after-expiry"), "the message");
    expect(refreshed.closed).toBeNull();
    expect(expiring.of("message").length).toBe(receivedBefore);
    for (const c of [sender, refreshed]) c.close();
  });

  it("refuses a token for another user in an auth frame", async () => {
    const alice = await signUp("alice");
    const bob = await signUp("bob");
    const roomId = await createRoom(alice.token);
    const client = await connect(roomId, alice.token);
    client.send({ type: "auth", token: bob.token });
    expect((await client.waitFor("error"))[0]?.code).toBe("unauthorized");
    client.close();
  });
});
