// The room's messages as one client holds them: in seq order from where it
// started, each delivered once. Messages that arrive behind a gap wait until
// it is filled (by the server's resend after a resume, or by pages of
// history after `resync_required`); too many waiting means no fill came, and
// the client resumes from the last seq it holds instead.
import type { Message } from "../protocol/model.ts";

export interface MessageStreamOptions {
  /** Test mode: keep every message delivered in `received`. */
  record: boolean;
  /** How many messages may wait behind a gap before they are dropped. */
  maxAhead: number;
  /** Called once per message, in seq order. */
  deliver: (message: Message) => void;
  /** Called when too many waited: they are forgotten; reconnect to resume from {@link MessageStream.lastSeq}. */
  overflow: () => void;
}

export class MessageStream {
  /** Messages by seq: those held behind a gap, and in test mode every message delivered. */
  readonly received = new Map<number, Message>();
  /** The seq up to which every message was delivered (from where the stream started); -1 before the first welcome. */
  lastSeq = -1;
  /** The room's head at the first welcome; the stream starts after it. */
  startSeq = -1;
  /** Messages in `received` with a seq above `lastSeq`. */
  #ahead = 0;
  readonly #options: MessageStreamOptions;

  constructor(options: MessageStreamOptions) {
    this.#options = options;
  }

  /** Starts the stream after the room's head at the first welcome; later welcomes resume it. */
  begin(headSeq: number): void {
    if (this.lastSeq < 0) this.lastSeq = this.startSeq = headSeq;
  }

  /** Takes one message from the socket or from history; duplicates and old seqs are dropped. */
  accept(message: Message): void {
    if (message.seq <= this.lastSeq || this.received.has(message.seq)) return;
    const { type: _type, ...fields } = message as Message & { type?: string };
    this.received.set(message.seq, fields);
    this.#ahead += 1;
    while (this.received.has(this.lastSeq + 1)) {
      this.lastSeq += 1;
      this.#ahead -= 1;
      const next = this.received.get(this.lastSeq);
      if (!this.#options.record) this.received.delete(this.lastSeq);
      if (next) this.#options.deliver(next);
    }
    if (this.#ahead > this.#options.maxAhead) {
      // A gap no fill closed: forget what waits behind it and resume from
      // lastSeq, which has the server send it all again in order.
      for (const seq of this.received.keys()) if (seq > this.lastSeq) this.received.delete(seq);
      this.#ahead = 0;
      this.#options.overflow();
    }
  }

  /** Fills a gap from history, page after page from `afterSeq`, until a page comes back empty or fails. */
  async fill(afterSeq: number, history: (afterSeq: number) => Promise<Message[]>): Promise<void> {
    let cursor = afterSeq;
    for (;;) {
      let page: Message[];
      try {
        page = await history(cursor);
      } catch {
        return;
      }
      for (const message of page) this.accept(message);
      const last = page.at(-1)?.seq;
      if (last === undefined) return;
      cursor = last;
    }
  }
}
