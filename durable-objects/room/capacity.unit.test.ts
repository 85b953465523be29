import { describe, expect, it } from "vitest";
import { openSockets, reportRoomSockets, reportUserSockets, userSockets } from "./capacity.ts";

// capacity.ts is module state, shared by the tests of this file: unique ids per test.
const id = (name: string) => `${name}-${crypto.randomUUID()}`;

describe("per-user socket counts", () => {
  it("sums a user's sockets over rooms, and follows each report to zero", () => {
    const [alice, bob, lobby, den] = [id("alice"), id("bob"), id("lobby"), id("den")];
    reportRoomSockets(lobby, "public", 3);
    reportUserSockets(lobby, alice, 2);
    reportUserSockets(lobby, bob, 1);
    reportRoomSockets(den, "private", 1);
    reportUserSockets(den, alice, 1);
    expect([userSockets(alice), userSockets(bob)]).toEqual([3, 1]);
    reportUserSockets(lobby, alice, 1);
    reportUserSockets(lobby, alice, 1);
    expect(userSockets(alice)).toBe(2);
    reportUserSockets(den, alice, 0);
    reportUserSockets(lobby, alice, 0);
    expect(userSockets(alice)).toBe(0);
    reportRoomSockets(lobby, "public", 0);
    reportRoomSockets(den, "private", 0);
  });

  it("forgets a room's users when the room reports no sockets (a drain closes them all at once)", () => {
    const [alice, bob, lobby, den] = [id("alice"), id("bob"), id("lobby"), id("den")];
    const before = openSockets();
    reportRoomSockets(lobby, "public", 3);
    reportUserSockets(lobby, alice, 2);
    reportUserSockets(lobby, bob, 1);
    reportRoomSockets(den, "public", 1);
    reportUserSockets(den, alice, 1);
    reportRoomSockets(lobby, "public", 0);
    expect([userSockets(alice), userSockets(bob)]).toEqual([1, 0]);
    // The closes the drain caused come later and change nothing.
    reportUserSockets(lobby, alice, 0);
    expect(userSockets(alice)).toBe(1);
    reportRoomSockets(den, "public", 0);
    expect(userSockets(alice)).toBe(0);
    expect(openSockets()).toBe(before);
  });
});
