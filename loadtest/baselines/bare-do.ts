// Baseline 1: a bare Durable Object broadcast on workerd. One object per room
// holds its sockets with the Hibernation API and writes every message to all
// of them; nothing is authenticated or stored. It is the runtime's ceiling
// for roomcast's shape. `loadtest/bench.ts` bundles it with esbuild and
// serves it with the same workerd binary as roomcast. With the STORE binding
// ("bare-do-sqlite"), each message is first inserted into the object's own
// SQLite on this machine's disk, and the output gate holds the broadcast
// until that write is durable: the floor of one durable commit per message.
import { DurableObject } from "cloudflare:workers";
import { BaselineRoom, setupAnswer, wsRoom } from "./frames.ts";

interface BareEnv {
  ROOMS: DurableObjectNamespace<Room>;
  STORE?: string;
}

export class Room extends DurableObject<BareEnv> {
  #room: BaselineRoom | undefined;

  override async fetch(request: Request): Promise<Response> {
    this.#room ??= new BaselineRoom(new URL(request.url).searchParams.get("room") ?? "room");
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.send(this.#room.welcome());
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    if (typeof message !== "string") return;
    this.#room ??= new BaselineRoom("room");
    const { broadcast, reply } = this.#room.receive(message);
    if (broadcast && this.env.STORE) {
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)");
      this.ctx.storage.sql.exec("INSERT INTO messages (body) VALUES (?)", broadcast);
    }
    if (broadcast) {
      for (const socket of this.ctx.getWebSockets()) {
        try {
          socket.send(broadcast);
        } catch {
          // Closing; its close event tidies up.
        }
      }
    }
    if (reply) ws.send(reply);
  }

  override webSocketClose(ws: WebSocket, code: number): void {
    ws.close(code === 1005 || code === 1006 ? 1000 : code);
  }
}

export default {
  async fetch(request: Request, env: BareEnv): Promise<Response> {
    const url = new URL(request.url);
    const room = wsRoom(url.pathname);
    if (room && request.headers.get("Upgrade") === "websocket") {
      return env.ROOMS.get(env.ROOMS.idFromName(room)).fetch(`http://room/?room=${encodeURIComponent(room)}`, request);
    }
    const body: unknown = request.method === "POST" ? await request.json().catch(() => ({})) : null;
    const answer = setupAnswer(request.method, url.pathname, body);
    if (!answer) return new Response("not found", { status: 404 });
    return answer.json === undefined
      ? new Response(null, { status: answer.status })
      : Response.json(answer.json, { status: answer.status });
  },
} satisfies ExportedHandler<BareEnv>;
