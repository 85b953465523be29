-- Users, rooms, membership, the message archive and WebSocket tickets.
CREATE TABLE users (
  id            uuid PRIMARY KEY,
  username      text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rooms (
  id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  name       text NOT NULL,
  type       text NOT NULL CHECK (type IN ('public', 'private')),
  owner_id   uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE room_members (
  room_id   text NOT NULL REFERENCES rooms (id),
  user_id   uuid NOT NULL REFERENCES users (id),
  joined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

-- Copied from each room's outbox; the room's SQLite is written first.
CREATE TABLE messages (
  room_id       text NOT NULL REFERENCES rooms (id),
  seq           bigint NOT NULL CHECK (seq > 0),
  id            uuid NOT NULL,
  user_id       uuid NOT NULL REFERENCES users (id),
  username      text NOT NULL,
  body          text NOT NULL,
  client_msg_id text NOT NULL,
  created_at    timestamptz NOT NULL,
  PRIMARY KEY (room_id, seq),
  UNIQUE (room_id, user_id, client_msg_id)
);

-- Single-use tickets for browser WebSocket upgrades; only a SHA-256 is kept.
CREATE TABLE ws_tickets (
  ticket_hash text PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users (id),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX ws_tickets_expiry ON ws_tickets (expires_at);
