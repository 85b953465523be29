import type { User } from "../../protocol/index.ts";
import type { Sessions } from "./sessions.ts";

/** A user's first socket in the room: everyone else hears `join`. */
export function announceJoin(sessions: Sessions, user: User, ws: WebSocket): void {
  sessions.broadcast({ type: "presence", event: "join", user: { userId: user.id, username: user.username } }, ws);
}

/** A socket left: if it was the user's last, everyone else hears `leave`. */
export function announceLeave(sessions: Sessions, ws: WebSocket): void {
  const attachment = sessions.attachment(ws);
  if (!attachment || sessions.open(attachment.user.id, ws).length > 0) return;
  sessions.broadcast({ type: "presence", event: "leave", user: { userId: attachment.user.id, username: attachment.user.username } }, ws);
}
