// What the process's own state says, as metric families: open sockets by
// room type and rooms with sockets (from the isolate's socket count, which
// every room keeps current, hibernated or not), and the build.
import { RoomType } from "../protocol/index.ts";
import { liveRooms, socketsByRoomType } from "../durable-objects/room/capacity.ts";
import pkg from "../package.json" with { type: "json" };
import type { Family } from "./exposition.ts";

export function runtimeFamilies(): Family[] {
  const byType = socketsByRoomType();
  return [
    {
      name: "websocket_connections",
      help: "Open room WebSockets in this process, by room type.",
      type: "gauge",
      samples: RoomType.options.map((type) => ({ labels: { room_type: type }, value: byType.get(type) ?? 0 })),
    },
    {
      name: "rooms_active",
      help: "Rooms with at least one open WebSocket in this process.",
      type: "gauge",
      samples: [{ value: liveRooms().length }],
    },
    {
      name: "roomcast_build_info",
      help: "Build of the running process (value 1).",
      type: "gauge",
      samples: [{ labels: { version: pkg.version }, value: 1 }],
    },
  ];
}
