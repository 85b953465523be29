-- Several processes (NODE_ID set): which process owns each room. A process
-- claims a room by bumping `epoch`; every PostgreSQL write of the room checks
-- its epoch in the same transaction (fencing), so a process that lost the
-- lease cannot write. `wanted_by` asks the owner to hand the room over (set
-- by the process nginx now sends the room to). See docs/decisions.md.
CREATE TABLE room_leases (
  room_id    text PRIMARY KEY REFERENCES rooms (id),
  node_id    text NOT NULL,
  epoch      bigint NOT NULL,
  expires_at timestamptz NOT NULL,
  wanted_by  text
);
