import type { Message, Room, RoomType, User } from "../protocol/index.ts";
import type { TransactionSql } from "postgres";
import type { Sql } from "./db.ts";
import { MESSAGE_COLUMNS, messageFromRow, messageToRow, type ArchivedMessageRow } from "./rows.ts";

interface RoomRow {
  id: string;
  name: string;
  type: RoomType;
  owner_id: string;
  created_at: Date;
}

function toRoom(row: RoomRow): Room {
  return { id: row.id, name: row.name, type: row.type, createdAt: row.created_at.toISOString() };
}

/** A user row with its password hash, for login only. */
export interface UserWithHash extends User {
  passwordHash: string;
}

/** Inserts a user; null when the username is taken. */
export async function insertUser(sql: Sql, user: UserWithHash): Promise<User | null> {
  const rows = await sql<{ id: string; username: string }[]>`
    INSERT INTO users (id, username, password_hash)
    VALUES (${user.id}, ${user.username}, ${user.passwordHash})
    ON CONFLICT (username) DO NOTHING
    RETURNING id, username`;
  return rows[0] ?? null;
}

/** Finds a user by username, with the hash. */
export async function findUserByUsername(sql: Sql, username: string): Promise<UserWithHash | null> {
  const rows = await sql<{ id: string; username: string; password_hash: string }[]>`
    SELECT id, username, password_hash FROM users WHERE username = ${username}`;
  const row = rows[0];
  return row ? { id: row.id, username: row.username, passwordHash: row.password_hash } : null;
}

/** Creates a room owned by `ownerId`, who becomes its first member; null when the id is taken. */
export async function insertRoom(sql: Sql, room: { id: string; name: string; type: RoomType; ownerId: string }): Promise<Room | null> {
  // One statement, so no transaction spans two round trips (see sql/db.ts on PGlite).
  const rows = await sql<RoomRow[]>`
    WITH created AS (
      INSERT INTO rooms (id, name, type, owner_id)
      VALUES (${room.id}, ${room.name}, ${room.type}, ${room.ownerId})
      ON CONFLICT (id) DO NOTHING
      RETURNING id, name, type, owner_id, created_at
    ), owner AS (
      INSERT INTO room_members (room_id, user_id) SELECT id, owner_id FROM created
    )
    SELECT * FROM created`;
  const row = rows[0];
  return row ? toRoom(row) : null;
}

/**
 * Public rooms and the private rooms the user belongs to: the user's own
 * rooms first, then the others, each by id; at most 1000. Own rooms first,
 * because anyone may create public rooms: sorted by id alone, 1000 rooms
 * with ids that sort early hid everyone's private rooms (found by the
 * security suite).
 */
export async function listRoomsFor(sql: Sql, userId: string): Promise<Room[]> {
  const rows = await sql<RoomRow[]>`
    SELECT r.id, r.name, r.type, r.owner_id, r.created_at FROM rooms r
    LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = ${userId}
    WHERE r.type = 'public' OR m.user_id IS NOT NULL
    ORDER BY (m.user_id IS NULL), r.id
    LIMIT 1000`;
  return rows.map(toRoom);
}

/** A room and what one user may do in it. */
export interface RoomAccess {
  room: Room;
  ownerId: string;
  isMember: boolean;
}

/** Loads a room with the user's membership; null when the room does not exist. */
export async function findRoomAccess(sql: Sql, roomId: string, userId: string): Promise<RoomAccess | null> {
  const rows = await sql<(RoomRow & { is_member: boolean })[]>`
    SELECT r.id, r.name, r.type, r.owner_id, r.created_at,
           EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.user_id = ${userId}) AS is_member
    FROM rooms r WHERE r.id = ${roomId}`;
  const row = rows[0];
  return row ? { room: toRoom(row), ownerId: row.owner_id, isMember: row.is_member } : null;
}

/** Adds a member; adding an existing member is a no-op. */
export async function insertMember(sql: Sql, roomId: string, userId: string): Promise<void> {
  await sql`
    INSERT INTO room_members (room_id, user_id) VALUES (${roomId}, ${userId})
    ON CONFLICT DO NOTHING`;
}

/** Stores a ticket's hash until it expires. */
export async function insertTicket(sql: Sql, ticket: { hash: string; userId: string; expiresAt: Date }): Promise<void> {
  await sql`
    INSERT INTO ws_tickets (ticket_hash, user_id, expires_at)
    VALUES (${ticket.hash}, ${ticket.userId}, ${ticket.expiresAt})`;
}

/** Consumes a ticket: deletes it and returns its user when it was valid; expired ones are swept. */
export async function consumeTicket(sql: Sql, hash: string): Promise<User | null> {
  const rows = await sql<User[]>`
    WITH used AS (
      DELETE FROM ws_tickets WHERE ticket_hash = ${hash} OR expires_at < now() - interval '1 minute'
      RETURNING ticket_hash, user_id, expires_at
    )
    SELECT u.id, u.username FROM used JOIN users u ON u.id = used.user_id
    WHERE used.ticket_hash = ${hash} AND used.expires_at > now()`;
  return rows[0] ?? null;
}

/** The archive's columns of a message, as PostgreSQL reads them from a JSON array (jsonb_to_recordset). */
function messageRows(messages: readonly Message[]): string {
  return JSON.stringify(messages.map(messageToRow));
}

const MESSAGE_RECORD =
  "m(room_id text, seq bigint, id uuid, user_id uuid, username text, body text, client_msg_id text, created_at timestamptz)";

/**
 * Copies messages, of any number of rooms, into the archive in one
 * statement; rows already there are skipped. Returns how many were new. The
 * rows travel as one JSON parameter: a batch of thousands stays one
 * parameter, far below the protocol's 65,535, and needs no array types.
 */
export async function insertMessages(sql: Sql | TransactionSql, messages: readonly Message[]): Promise<number> {
  if (messages.length === 0) return 0;
  const result = await sql`
    INSERT INTO messages (room_id, seq, id, user_id, username, body, client_msg_id, created_at)
    SELECT * FROM jsonb_to_recordset(${messageRows(messages)}::text::jsonb) AS ${sql.unsafe(MESSAGE_RECORD)}
    ON CONFLICT (room_id, seq) DO NOTHING`;
  return result.count;
}

/** The highest archived seq of each room (0 for a room with none), in one statement. */
export async function maxArchivedSeqs(sql: Sql, roomIds: readonly string[]): Promise<Map<string, number>> {
  const heads = new Map<string, number>(roomIds.map((id) => [id, 0]));
  if (roomIds.length === 0) return heads;
  const rows = await sql<{ room_id: string; max: string }[]>`
    SELECT r.room_id, (SELECT max(seq) FROM messages m WHERE m.room_id = r.room_id) AS max
    FROM jsonb_array_elements_text(${JSON.stringify([...new Set(roomIds)])}::text::jsonb) AS r(room_id)`;
  for (const row of rows) heads.set(row.room_id, Number(row.max ?? 0));
  return heads;
}

/** A room's lease by epoch, as the lease keeper and fenced writes name it. */
export interface HeldLease {
  roomId: string;
  epoch: number;
}

/**
 * Renews every lease in `leases` that this node still holds with that epoch,
 * in one statement. Returns the rooms renewed, each with whether another
 * process asked for it; a room missing from the answer lost its lease.
 */
export async function renewLeases(
  sql: Sql | TransactionSql,
  nodeId: string,
  ttlMs: number,
  leases: readonly HeldLease[],
): Promise<Map<string, { wanted: boolean }>> {
  const renewed = new Map<string, { wanted: boolean }>();
  if (leases.length === 0) return renewed;
  const json = JSON.stringify(leases.map((l) => ({ room_id: l.roomId, epoch: l.epoch })));
  const rows = await sql<{ room_id: string; wanted_by: string | null }[]>`
    UPDATE room_leases l SET expires_at = now() + ${ttlMs} * interval '1 millisecond'
    FROM jsonb_to_recordset(${json}::text::jsonb) AS c(room_id text, epoch bigint)
    WHERE l.room_id = c.room_id AND l.node_id = ${nodeId} AND l.epoch = c.epoch
    RETURNING l.room_id, l.wanted_by`;
  for (const row of rows) renewed.set(row.room_id, { wanted: row.wanted_by !== null && row.wanted_by !== nodeId });
  return renewed;
}

/**
 * Multi-process mode, many rooms in one transaction: renews each room's
 * lease if this node still holds it with the given epoch, and inserts the
 * messages of exactly those rooms (fencing: the lease check and the insert
 * commit together). Returns the rooms whose lease held, with whether another
 * process asked for them; the messages of any other room were not written.
 */
export async function insertMessagesFencedBatch(
  sql: Sql,
  nodeId: string,
  ttlMs: number,
  groups: readonly (HeldLease & { messages: readonly Message[] })[],
): Promise<Map<string, { wanted: boolean }>> {
  const held = new Map<string, { wanted: boolean }>();
  if (groups.length === 0) return held;
  const leases = JSON.stringify(groups.map((g) => ({ room_id: g.roomId, epoch: g.epoch })));
  // One statement, so that it commits as a whole on PGlite's shared session too (sql/db.ts).
  const rows = await sql<{ room_id: string; wanted_by: string | null }[]>`
    WITH held AS (
      UPDATE room_leases l SET expires_at = now() + ${ttlMs} * interval '1 millisecond'
      FROM jsonb_to_recordset(${leases}::text::jsonb) AS c(room_id text, epoch bigint)
      WHERE l.room_id = c.room_id AND l.node_id = ${nodeId} AND l.epoch = c.epoch
      RETURNING l.room_id, l.wanted_by
    ), inserted AS (
      INSERT INTO messages (room_id, seq, id, user_id, username, body, client_msg_id, created_at)
      SELECT * FROM jsonb_to_recordset(${messageRows(groups.flatMap((g) => g.messages))}::text::jsonb) AS ${sql.unsafe(MESSAGE_RECORD)}
      WHERE m.room_id IN (SELECT room_id FROM held)
      ON CONFLICT (room_id, seq) DO NOTHING
    )
    SELECT room_id, wanted_by FROM held`;
  for (const row of rows) held.set(row.room_id, { wanted: row.wanted_by !== null && row.wanted_by !== nodeId });
  return held;
}

/**
 * Archived messages of a room with afterSeq < seq < beforeSeq, ascending: the
 * oldest `limit` of them, or with `newest` the newest `limit`.
 */
export async function selectMessages(
  sql: Sql,
  roomId: string,
  range: { afterSeq: number; beforeSeq: number; limit: number; newest?: boolean },
): Promise<Message[]> {
  const rows = range.newest
    ? await sql<ArchivedMessageRow[]>`
        SELECT ${sql.unsafe(MESSAGE_COLUMNS)} FROM messages
        WHERE room_id = ${roomId} AND seq > ${range.afterSeq} AND seq < ${range.beforeSeq}
        ORDER BY seq DESC LIMIT ${range.limit}`
    : await sql<ArchivedMessageRow[]>`
        SELECT ${sql.unsafe(MESSAGE_COLUMNS)} FROM messages
        WHERE room_id = ${roomId} AND seq > ${range.afterSeq} AND seq < ${range.beforeSeq}
        ORDER BY seq LIMIT ${range.limit}`;
  if (range.newest) rows.reverse();
  return rows.map((row) => messageFromRow(roomId, row));
}

/** Answers when PostgreSQL does. */
export async function ping(sql: Sql): Promise<void> {
  await sql`SELECT 1`;
}

/** A room lease this process holds (multi-process mode). */
export interface Lease {
  nodeId: string;
  epoch: number;
  ttlMs: number;
}

/** What a claim answers: the lease, or who holds it and for how much longer. */
export type Claim = { ok: true; lease: Lease } | { ok: false; holder: string; remainingMs: number };

/**
 * Claims a room for this process: succeeds when the room has no lease, its
 * lease expired, or this node holds it already (a restarted process), and
 * bumps the epoch. When another process holds it, asks that process to hand
 * the room over (`wanted_by`) and says how long its lease still runs.
 */
export async function claimLease(sql: Sql, roomId: string, nodeId: string, ttlMs: number): Promise<Claim> {
  const claimed = await sql<{ epoch: string }[]>`
    INSERT INTO room_leases (room_id, node_id, epoch, expires_at)
    VALUES (${roomId}, ${nodeId}, 1, now() + ${ttlMs} * interval '1 millisecond')
    ON CONFLICT (room_id) DO UPDATE
      SET node_id = excluded.node_id, epoch = room_leases.epoch + 1,
          expires_at = excluded.expires_at, wanted_by = NULL
      WHERE room_leases.node_id = excluded.node_id OR room_leases.expires_at < now()
    RETURNING epoch`;
  const row = claimed[0];
  if (row) return { ok: true, lease: { nodeId, epoch: Number(row.epoch), ttlMs } };
  const held = await sql<{ node_id: string; remaining_ms: number }[]>`
    UPDATE room_leases SET wanted_by = ${nodeId}
    WHERE room_id = ${roomId} AND node_id <> ${nodeId}
    RETURNING node_id, greatest(0, extract(epoch FROM expires_at - now()) * 1000)::int AS remaining_ms`;
  return { ok: false, holder: held[0]?.node_id ?? "unknown", remainingMs: held[0]?.remaining_ms ?? ttlMs };
}

/** Gives the room up now, so that the process that asked for it can claim it at once. */
export async function releaseLease(sql: Sql, roomId: string, lease: Lease): Promise<void> {
  await sql`
    UPDATE room_leases SET expires_at = now() - interval '1 millisecond', wanted_by = NULL
    WHERE room_id = ${roomId} AND node_id = ${lease.nodeId} AND epoch = ${lease.epoch}`;
}
