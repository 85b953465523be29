// The invariant checker of the fault tests (I1–I4), against PostgreSQL and
// the rooms' own view (GET /rooms/:id/messages, served from the room log and
// the archive).
import type { Message } from "../../protocol/index.ts";
import { createSql } from "../../sql/db.ts";
import { http, waitUntil } from "../support/node-client.ts";
import type { Workload } from "./workload.ts";

/** What the checker counted; every violation list must be empty. */
export interface Report {
  scenario: string;
  sent: number;
  acked: number;
  stored: number;
  duplicates: number;
  gaps: number;
  clients: number;
  resyncs: number;
  violations: string[];
}

interface Row {
  room_id: string;
  seq: string;
  id: string;
  user_id: string;
  client_msg_id: string;
}

async function roomView(base: string, token: string, room: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let after = 0; ;) {
    let page = await http(base, `/rooms/${room}/messages?after=${after}&limit=200`, { token });
    // 503 while a room moves between processes (F6): retry as a client would.
    for (let attempt = 0; page.status === 503 && attempt < 40; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      page = await http(base, `/rooms/${room}/messages?after=${after}&limit=200`, { token });
    }
    if (page.status !== 200) throw new Error(`history of ${room}: ${page.status} ${JSON.stringify(page.body)}`);
    const messages = (page.body as { messages: Message[] }).messages;
    if (messages.length === 0) return out;
    out.push(...messages);
    after = messages.at(-1)?.seq ?? after;
  }
}

/**
 * I1 every acked message is stored exactly once (with its acked seq); I2 each
 * room's seq is gapless from 1 and strictly increasing; I3 every sent message
 * is stored exactly once; I4 each client's stream, deduplicated by seq, equals
 * the room's history from where it joined to the end.
 */
export async function check(scenario: string, workload: Workload, databaseUrl: string, token: string): Promise<Report> {
  const violations: string[] = [];
  const sql = createSql(databaseUrl);
  let rows: Row[] = [];
  try {
    const expected = new Map<string, number>();
    for (const { room, client } of workload.clients) {
      for (const seq of client.acked.values()) expected.set(room, Math.max(expected.get(room) ?? 0, seq));
    }
    // The outbox drains on its own; wait for the archive to hold every room's head.
    await waitUntil(
      async () => {
        const heads = await sql<{ room_id: string; max: string }[]>`
        SELECT room_id, max(seq) AS max FROM messages WHERE room_id IN ${sql(workload.rooms)} GROUP BY room_id`;
        const byRoom = new Map(heads.map((h) => [h.room_id, Number(h.max)]));
        return [...expected].every(([room, head]) => (byRoom.get(room) ?? 0) >= head);
      },
      "the outboxes to drain into PostgreSQL",
      90_000,
    );
    rows = await sql<Row[]>`
      SELECT room_id, seq, id, user_id, client_msg_id FROM messages
      WHERE room_id IN ${sql(workload.rooms)} ORDER BY room_id, seq`;
  } finally {
    await sql.end({ timeout: 2 });
  }

  const byRoom = new Map<string, Row[]>();
  for (const row of rows) byRoom.set(row.room_id, [...(byRoom.get(row.room_id) ?? []), row]);
  let gaps = 0;
  for (const [room, list] of byRoom) {
    list.forEach((row, i) => {
      if (Number(row.seq) !== i + 1) {
        gaps += 1;
        if (gaps <= 5) violations.push(`I2 ${room}: seq ${row.seq} at position ${i + 1}`);
      }
    });
  }
  const stored = new Map<string, number[]>();
  for (const row of rows) {
    const key = `${row.room_id}|${row.user_id}|${row.client_msg_id}`;
    stored.set(key, [...(stored.get(key) ?? []), Number(row.seq)]);
  }
  const duplicates = [...stored.values()].filter((seqs) => seqs.length > 1).length;
  if (duplicates > 0) violations.push(`I1/I3: ${duplicates} client messages stored more than once`);

  let sent = 0;
  let acked = 0;
  let resyncs = 0;
  for (const { room, userId, client } of workload.clients) {
    resyncs += client.resyncs.length;
    for (const [clientMsgId, seq] of client.acked) {
      acked += 1;
      const seqs = stored.get(`${room}|${userId}|${clientMsgId}`) ?? [];
      if (seqs.length !== 1 || seqs[0] !== seq) violations.push(`I1 ${room} ${clientMsgId}: acked ${seq}, stored ${JSON.stringify(seqs)}`);
    }
    sent += client.acked.size + client.pending.size;
    for (const clientMsgId of client.pending.keys()) {
      violations.push(`I3 ${room} ${clientMsgId}: sent, never acked`);
    }
    const archive = byRoom.get(room) ?? [];
    const head = archive.length;
    if (client.lastSeq < head) violations.push(`I4 ${room}: client stream ends at ${client.lastSeq}, room at ${head}`);
    for (let seq = client.startSeq + 1; seq <= Math.min(client.lastSeq, head); seq++) {
      const got = client.received.get(seq);
      if (got?.id !== archive[seq - 1]?.id) {
        violations.push(`I4 ${room}: seq ${seq} differs from the room history`);
        break;
      }
    }
  }

  // The rooms' own view (log + archive) must equal PostgreSQL's.
  for (const room of workload.rooms) {
    const view = await roomView(workload.base, token, room);
    const archive = byRoom.get(room) ?? [];
    if (view.length !== archive.length || view.some((m, i) => m.id !== archive[i]?.id || m.seq !== i + 1)) {
      violations.push(`room view of ${room} (${view.length}) differs from PostgreSQL (${archive.length})`);
    }
  }

  const report: Report = {
    scenario,
    sent,
    acked,
    stored: rows.length,
    duplicates,
    gaps,
    clients: workload.clients.length,
    resyncs,
    violations: violations.slice(0, 20),
  };
  console.log(
    `invariants ${scenario}: sent=${sent} acked=${acked} stored=${rows.length} duplicates=${duplicates} gaps=${gaps} ` +
      `clients=${report.clients} resyncs=${resyncs} violations=${violations.length}`,
  );
  return report;
}
