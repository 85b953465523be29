import { Hono } from "hono";
import { countRoomCall, resultCode } from "./calls.ts";
import {
  AddMemberRequest,
  CreateRoomRequest,
  HistoryQuery,
  publishRequest,
  type MessageResponse,
  type MessagesResponse,
  type RoomResponse,
  type RoomsResponse,
} from "../../protocol/index.ts";
import { requireUser } from "../auth/middleware.ts";
import { closeDatabase, configOf, database, readBody, validate, type AppEnv } from "../context.ts";
import { ApiError } from "../errors.ts";
import { roomRefusal, roomStub, visibleRoom } from "./access.ts";
import { upgradeRoute } from "./ws.ts";

/** `/rooms/*`: create, list, get, members, history, publish and the WebSocket upgrade. */
export const roomRoutes = new Hono<AppEnv>()
  // The upgrade authenticates itself (Bearer or ticket), so it comes first.
  .get("/:id/ws", upgradeRoute)
  .use(requireUser)
  .post("/", async (c) => {
    const input = await readBody(c, CreateRoomRequest);
    const room = await (
      await database(c)
    ).insertRoom({
      id: input.id,
      name: input.name ?? input.id,
      type: input.type,
      ownerId: c.get("user").id,
    });
    if (!room) throw new ApiError("room_exists", `room ${input.id} exists`);
    return c.json({ room } satisfies RoomResponse, 201);
  })
  .get("/", async (c) => {
    const rooms = await (await database(c)).listRoomsFor(c.get("user").id);
    return c.json({ rooms } satisfies RoomsResponse);
  })
  .get("/:id", async (c) => {
    const { room } = await visibleRoom(c, c.req.param("id"));
    return c.json({ room } satisfies RoomResponse);
  })
  .post("/:id/members", async (c) => {
    const access = await visibleRoom(c, c.req.param("id"));
    if (access.ownerId !== c.get("user").id) throw new ApiError("forbidden", "only the room's owner adds members");
    const { username } = await readBody(c, AddMemberRequest);
    const member = await (await database(c)).findUserByUsername(username);
    if (!member) throw new ApiError("user_not_found", `no user ${username}`);
    await (await database(c)).insertMember(access.room.id, member.id);
    return c.body(null, 204);
  })
  // Every room door checks visibility before the request's details, so that
  // a caller who may not see a room gets the same 404 whatever else it sent
  // (docs/protocol.md, "Order of checks").
  .get("/:id/messages", async (c) => {
    const { room } = await visibleRoom(c, c.req.param("id"));
    const query = validate(HistoryQuery, c.req.query());
    closeDatabase(c);
    const result = await countRoomCall("history", roomStub(c.env, room.id).history(room, query), resultCode);
    if (!result.ok) throw roomRefusal(result);
    return c.json({ messages: result.messages } satisfies MessagesResponse);
  })
  .post("/:id/messages", async (c) => {
    const { room } = await visibleRoom(c, c.req.param("id"));
    const input = await readBody(c, publishRequest(configOf(c).maxBodyChars));
    closeDatabase(c);
    const result = await countRoomCall("publish", roomStub(c.env, room.id).publish(room, c.get("user"), input), resultCode);
    if (!result.ok) throw roomRefusal(result);
    return c.json({ message: result.message } satisfies MessageResponse, 201);
  });
