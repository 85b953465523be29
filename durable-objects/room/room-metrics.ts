import type { Message, Room } from "../../protocol/index.ts";
import { CLOSE } from "../../protocol/index.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import { reportRoom, scheduleReport } from "../../metrics-bridge/report.ts";
import { reportRoomSockets, reportUserSockets } from "./capacity.ts";

/**
 * The room's counters and its stat for the Stats object: sockets, outbox
 * depth, messages sent and delivered by room type, closes by code. Counters
 * reach the Stats object within a second, while the room is awake anyway.
 */
export class RoomMetrics {
  readonly #room: () => Room | null;
  /** Open sockets of the room, or of one user in it. */
  readonly #countSockets: (userId?: string) => number;
  readonly #outboxDepth: () => number;
  readonly #schedule: () => void;
  /** Open sockets as last counted; undefined until counted. */
  #sockets: number | undefined;

  constructor(parts: {
    room: () => Room | null;
    countSockets: (userId?: string) => number;
    outboxDepth: () => number;
    env: Env;
    waitUntil: (p: Promise<unknown>) => void;
  }) {
    this.#room = parts.room;
    this.#countSockets = parts.countSockets;
    this.#outboxDepth = parts.outboxDepth;
    this.#schedule = () => scheduleReport(parts.env, parts.waitUntil);
  }

  /** Any event: counters go out within a second. */
  touched(): void {
    this.#schedule();
  }

  /**
   * After sockets opened or closed: the isolate's socket counts (capacity),
   * in all and of `userId` (the user whose socket it was), and the room's stat.
   */
  socketsChanged(userId?: string): void {
    this.#sockets = this.#countSockets();
    const room = this.#room();
    if (room) {
      reportRoomSockets(room.id, room.type, this.#sockets);
      if (userId !== undefined) reportUserSockets(room.id, userId, this.#countSockets(userId));
    }
    this.roomChanged();
  }

  /** After the outbox changed: the room's stat (socket count as last counted). */
  roomChanged(): void {
    const room = this.#room();
    if (!room) return;
    this.#sockets ??= this.#countSockets();
    reportRoom(room.id, { type: room.type, sockets: this.#sockets, outbox: this.#outboxDepth() });
    this.#schedule();
  }

  sent(_message: Message): void {
    metrics.messagesSent.inc({ room_type: this.#room()?.type ?? "public" });
  }

  delivered(count: number): void {
    if (count > 0) metrics.messagesDelivered.inc({ room_type: this.#room()?.type ?? "public" }, count);
  }

  closed(code: number): void {
    metrics.websocketCloses.inc({ code: closeLabel(code) });
  }

  processed(startedMs: number): void {
    metrics.messageProcessing.observe((performance.now() - startedMs) / 1000);
  }
}

/** Close codes as a bounded label: the contract's and RFC 6455's own, else "other". */
export function closeLabel(code: number): string {
  return (code >= 1000 && code <= 1015) || (Object.values(CLOSE) as number[]).includes(code) ? String(code) : "other";
}
