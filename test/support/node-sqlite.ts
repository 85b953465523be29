import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { RoomSql, SqlRows } from "../../durable-objects/room/room-sql.ts";

/**
 * The room's SQLite interface over Node's own SQLite (node:sqlite), so that
 * the room's storage, sequencer and outbox run as plain objects in unit
 * tests: real SQL on a real SQLite, without workerd. Not the runtime's
 * storage: no output gate, no durability; the workers tests cover those.
 */
export function nodeSql(db = new DatabaseSync(":memory:")): RoomSql & { db: DatabaseSync } {
  return {
    db,
    exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: SqlStorageValue[]): SqlRows<T> {
      const values = bindings.map((b) => (b instanceof ArrayBuffer ? new Uint8Array(b) : b)) as SQLInputValue[];
      let rows: T[] = [];
      let rowsWritten = 0;
      if (values.length === 0 && query.split(";").filter((s) => s.trim()).length > 1) {
        db.exec(query);
      } else if (/^\s*SELECT/i.test(query)) {
        rows = db.prepare(query).all(...values) as T[];
      } else {
        rowsWritten = Number(db.prepare(query).run(...values).changes);
      }
      return {
        toArray: () => rows,
        one: () => {
          if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
          return rows[0] as T;
        },
        rowsWritten,
      };
    },
    transactionSync<T>(work: () => T): T {
      db.exec("BEGIN");
      try {
        const result = work();
        db.exec("COMMIT");
        return result;
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
  };
}
