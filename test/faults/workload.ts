// The fault tests' workload: rooms of clients that send tagged messages,
// record what was sent, acked and received, and survive disconnects.
import WebSocket from "ws";
import { RoomClient, type SocketLike } from "../../client/room-client.ts";
import type { LoginResponse, Message } from "../../protocol/index.ts";
import { http, waitUntil } from "../support/node-client.ts";
import type { Cleanup } from "./lifecycle.ts";

/** One client of the workload. */
export interface FaultClient {
  room: string;
  userId: string;
  client: RoomClient;
}

/** Rooms, users and clients, ready to start. */
export interface Workload {
  rooms: string[];
  clients: FaultClient[];
  base: string;
}

/** Opens a Node WebSocket with a bearer token (the contract's header auth). */
export function bearerSocket(token: () => string): (url: string) => SocketLike {
  return (url) => new WebSocket(url, { headers: { Authorization: `Bearer ${token()}` } }) as unknown as SocketLike;
}

/** Registers `clientsPerRoom` users and `rooms` public rooms; every user joins every room. */
export async function createWorkload(base: string, options: { prefix: string; rooms: number; clientsPerRoom: number }): Promise<Workload> {
  const tokens: { token: string; userId: string }[] = [];
  for (let u = 0; u < options.clientsPerRoom; u++) {
    const username = `${options.prefix}-u${u}`;
    await http(base, "/auth/register", { json: { username, password: "password-123" } });
    const login = (await http(base, "/auth/login", { json: { username, password: "password-123" } })).body as LoginResponse;
    tokens.push({ token: login.token, userId: login.user.id });
  }
  const owner = tokens[0];
  if (!owner) throw new Error("no users");
  const rooms: string[] = [];
  for (let r = 0; r < options.rooms; r++) {
    const id = `${options.prefix}-r${r}`;
    const created = await http(base, "/rooms", { token: owner.token, json: { id, type: "public" } });
    if (created.status !== 201) throw new Error(`room ${id}: ${created.status}`);
    rooms.push(id);
  }
  const ws = base.replace("http", "ws");
  const clients = rooms.flatMap((room) =>
    tokens.map(({ token, userId }) => ({
      room,
      userId,
      client: new RoomClient({
        url: `${ws}/rooms/${room}/ws`,
        open: bearerSocket(() => token),
        history: async (after) => {
          const page = await http(base, `/rooms/${room}/messages?after=${after}&limit=200`, { token });
          if (page.status !== 200) throw new Error(`history ${page.status}`);
          return (page.body as { messages: Message[] }).messages;
        },
        // Short: the fault tests measure the server's recovery, not client patience.
        backoff: { minMs: 200, maxMs: 1000 },
        // The checker reads every message received, ack and ack latency.
        record: true,
      }),
    })),
  );
  return { rooms, clients, base };
}

/** Creates a workload, stops its clients at teardown, and connects them all. */
export async function startWorkload(
  base: string,
  options: { prefix: string; rooms: number; clientsPerRoom: number },
  cleanup: Cleanup,
): Promise<Workload> {
  const workload = await createWorkload(base, options);
  cleanup(() => stopAll(workload));
  await connectAll(workload);
  return workload;
}

/** Starts every client and waits until all are welcomed. */
export async function connectAll(workload: Workload, timeoutMs = 30_000): Promise<void> {
  await Promise.all(workload.clients.map((c) => c.client.start()));
  await waitUntil(() => workload.clients.every((c) => c.client.connected), "all clients to connect", timeoutMs).catch((error: unknown) => {
    const connected = workload.clients.filter((c) => c.client.connected).length;
    const closes = workload.clients.flatMap((c) => c.client.closes);
    throw new Error(
      `${String(error)}: ${connected}/${workload.clients.length} connected; close codes ${JSON.stringify(closes.slice(0, 20))}`,
    );
  });
}

/** Sends at about `perSecond` messages in total, spread over random clients, until stopped. */
export function startLoad(workload: Workload, perSecond: number): { stop(): void; sent(): number } {
  let sent = 0;
  const tickMs = 50;
  const perTick = (perSecond * tickMs) / 1000;
  let carry = 0;
  const timer = setInterval(() => {
    carry += perTick;
    while (carry >= 1) {
      carry -= 1;
      const pick = workload.clients[Math.floor(Math.random() * workload.clients.length)];
      pick?.client.send(`load ${++sent}`);
    }
  }, tickMs);
  return { stop: () => clearInterval(timer), sent: () => sent };
}

/** Waits until every send is acked and every client holds its room's whole stream. */
export async function settle(workload: Workload, timeoutMs = 60_000): Promise<void> {
  await waitUntil(
    () => {
      const heads = new Map<string, number>();
      for (const { room, client } of workload.clients) {
        for (const seq of client.acked.values()) heads.set(room, Math.max(heads.get(room) ?? 0, seq));
      }
      return workload.clients.every(({ room, client }) => client.pending.size === 0 && client.lastSeq >= (heads.get(room) ?? 0));
    },
    "every send acked and every stream complete",
    timeoutMs,
  );
}

/** Stops every client. */
export function stopAll(workload: Workload): void {
  for (const { client } of workload.clients) client.stop();
}

/** A token of the workload's first user, for the checker's REST reads. */
export async function loginToken(workload: Workload): Promise<string> {
  const username = `${workload.rooms[0]?.replace(/-r0$/, "")}-u0`;
  const login = await http(workload.base, "/auth/login", { json: { username, password: "password-123" } });
  return (login.body as LoginResponse).token;
}
