// Baseline 2: a raw Node `ws` broadcast server, what a user might write
// instead: rooms in a Map, every message written to every socket of its room,
// nothing authenticated or stored.
//   node loadtest/baselines/ws-server.ts --port 8092
import { createServer, type Server } from "node:http";
import { parseArgs } from "node:util";
import { WebSocketServer, type WebSocket } from "ws";
import { BaselineRoom, setupAnswer, wsRoom } from "./frames.ts";

export function startWsBaseline(port: number, host = "127.0.0.1"): Promise<Server> {
  const rooms = new Map<string, { room: BaselineRoom; sockets: Set<WebSocket> }>();
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      let body: unknown = {};
      try {
        body = raw ? (JSON.parse(raw) as unknown) : {};
      } catch {
        // Answered as an empty body.
      }
      const answer = setupAnswer(req.method ?? "GET", new URL(req.url ?? "/", "http://x").pathname, body);
      if (!answer) {
        res.writeHead(404).end("not found");
        return;
      }
      if (answer.json === undefined) res.writeHead(answer.status).end();
      else res.writeHead(answer.status, { "Content-Type": "application/json" }).end(JSON.stringify(answer.json));
    });
  });
  server.on("upgrade", (req, socket, head) => {
    const id = wsRoom(new URL(req.url ?? "/", "http://x").pathname);
    if (!id) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      let entry = rooms.get(id);
      if (!entry) rooms.set(id, (entry = { room: new BaselineRoom(id), sockets: new Set() }));
      const { room, sockets } = entry;
      sockets.add(ws);
      ws.send(room.welcome());
      ws.on("message", (data: Buffer) => {
        const { broadcast, reply } = room.receive(data.toString("utf8"));
        if (broadcast) for (const peer of sockets) peer.send(broadcast);
        if (reply) ws.send(reply);
      });
      ws.on("close", () => sockets.delete(ws));
      ws.on("error", () => {});
    });
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8092" }, host: { type: "string", default: "127.0.0.1" } } });
  await startWsBaseline(Number(values.port), values.host);
  console.log(`ws baseline on http://${values.host}:${values.port}`);
}
