import { describe, expect, it } from "vitest";
import { RoomTracker } from "./room-tracker.ts";

describe("lost-message accounting", () => {
  it("counts nothing when a member receives every message", () => {
    const room = new RoomTracker();
    const member = room.join(10);
    for (let seq = 11; seq <= 13; seq += 1) {
      room.acked(seq, seq);
      expect(room.receive(member, seq)).toEqual({ skipped: 0, duplicate: false });
    }
    expect(room.leave(member, 100)).toBe(0);
  });

  it("counts a gap in a member's stream as lost", () => {
    const room = new RoomTracker();
    const member = room.join(0);
    room.receive(member, 1);
    expect(room.receive(member, 4)).toEqual({ skipped: 2, duplicate: false });
    expect(room.receive(member, 4)).toEqual({ skipped: 0, duplicate: true });
  });

  it("counts at close the messages acked before the close began and never received, not later ones", () => {
    const room = new RoomTracker();
    const member = room.join(5);
    room.acked(6, 1000);
    room.acked(7, 1500);
    room.acked(8, 2500);
    room.receive(member, 6);
    // Close began at 2000: seq 7 was acked before it and never arrived; seq 8 after.
    expect(room.leave(member, 2000)).toBe(1);
    expect(room.leave(member, 2000)).toBe(0);
  });

  it("does not hold a newcomer to messages from before its welcome", () => {
    const room = new RoomTracker();
    room.acked(1, 10);
    room.acked(2, 20);
    const late = room.join(2);
    expect(room.leave(late, 30)).toBe(0);
  });

  it("keeps the acks an open member may still miss when pruning", () => {
    const room = new RoomTracker();
    const slow = room.join(0);
    const fast = room.join(0);
    for (let seq = 1; seq <= 3; seq += 1) {
      room.acked(seq, seq);
      room.receive(fast, seq);
    }
    room.receive(slow, 1);
    room.prune();
    expect(room.leave(fast, 10)).toBe(0);
    expect(room.leave(slow, 10)).toBe(2);
  });
});
