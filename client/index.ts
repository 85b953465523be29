/** @roomcast/client: a typed browser and Node 22 client for roomcast rooms (docs/client.md). */
export { RoomClient, RECENT, type RoomClientOptions, type SocketLike, type PresenceChange, type ConnectionState } from "./room-client.ts";
export { RoomcastApi, RoomcastApiError, type RoomcastApiOptions, type RoomcastApiErrorCode, type FetchLike } from "./api.ts";
export { connectRoom, type ConnectRoomOptions } from "./connect.ts";
export { RoomClientError, type RoomClientErrorCode } from "./errors.ts";
export type { SendLimits } from "./sends.ts";
export type { HttpErrorCode, FrameErrorCode, CloseCode } from "../protocol/codes.ts";
export type { LoginResponse, TicketResponse } from "../protocol/http.ts";
export type { Message, PresenceUser, Room, RoomType, User } from "../protocol/model.ts";
/** The contract's rules for room ids and usernames, for forms that check before they send. */
export { ROOM_ID_PATTERN, USERNAME_PATTERN } from "../protocol/model.ts";
