import { app } from "./app.ts";

export { ChatRoom } from "../durable-objects/room/chat-room.ts";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
