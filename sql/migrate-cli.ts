// `npm run db:migrate`: applies sql/migrations to DATABASE_URL.
import { createSql } from "./db.ts";
import { loadMigrations, migrate, MigrationError } from "./migrate.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("db:migrate: set DATABASE_URL (npm start migrates the embedded database itself)");
  process.exit(2);
}
const sql = createSql(url);
try {
  const ran = await migrate(sql, await loadMigrations());
  console.log(ran.length ? `db:migrate: applied ${ran.join(", ")}` : "db:migrate: up to date");
} catch (error) {
  const code = error instanceof MigrationError ? error.code : "FAILED";
  console.error(`db:migrate: ${code}: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await sql.end({ timeout: 5 });
}
