// Lost-message accounting for one room, inside the worker that holds all of
// the room's sockets (rooms are never split between workers, so one clock
// and one event loop see every send, ack and receive of the room).
//
// A socket welcomed with headSeq H is in the room for every message with a
// seq above H. The room broadcasts a message to its sockets before it acks
// it to the sender, and every socket of a room sees messages in seq order. So:
// - a socket that receives seq S after seq P < S - 1 missed P+1 … S-1 (a gap);
// - when a socket closes, every message acked before its close began and
//   above the last seq it received was missed. The close is counted when its
//   close event arrives: the server's close frame follows every message it
//   wrote to that socket first, so nothing still in flight is counted.

/** One socket's place in its room's stream. */
export interface Session {
  /** The highest seq this socket received (its welcome's headSeq at first). */
  lastSeq: number;
}

/** The acks and sessions of one room. */
export class RoomTracker {
  /** seq → when its ack arrived (ms), for seqs some open session may still need. */
  readonly #acks = new Map<number, number>();
  readonly #sessions = new Set<Session>();

  /** A socket was welcomed. */
  join(headSeq: number): Session {
    const session = { lastSeq: headSeq };
    this.#sessions.add(session);
    return session;
  }

  /** A sender got its ack. */
  acked(seq: number, at: number): void {
    this.#acks.set(seq, at);
  }

  /** A message frame arrived on a session: the seqs it skipped (lost) and whether it repeats one. */
  receive(session: Session, seq: number): { skipped: number; duplicate: boolean } {
    if (seq <= session.lastSeq) return { skipped: 0, duplicate: true };
    const skipped = seq - session.lastSeq - 1;
    session.lastSeq = seq;
    return { skipped, duplicate: false };
  }

  /** The session ended; `closedAt` is when its close began. Returns the messages it missed at the end. */
  leave(session: Session, closedAt: number): number {
    if (!this.#sessions.delete(session)) return 0;
    let missed = 0;
    for (const [seq, at] of this.#acks) if (seq > session.lastSeq && at < closedAt) missed += 1;
    return missed;
  }

  /** Forgets acks that no open session can still be missing. */
  prune(): void {
    let floor = Infinity;
    for (const session of this.#sessions) floor = Math.min(floor, session.lastSeq);
    for (const seq of this.#acks.keys()) if (seq <= floor) this.#acks.delete(seq);
  }
}
