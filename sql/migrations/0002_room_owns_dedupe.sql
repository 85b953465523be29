-- The room dedupes clientMsgId within its own window (DEDUPE_WINDOW) and is
-- the source of truth for seq. A unique (room, user, client id) here would
-- silently drop a message the room stored under a new seq after that window,
-- leaving a hole in the archive; the archive mirrors the room log by seq.
ALTER TABLE messages DROP CONSTRAINT messages_room_id_user_id_client_msg_id_key;
CREATE INDEX messages_client_msg_id ON messages (room_id, user_id, client_msg_id);
