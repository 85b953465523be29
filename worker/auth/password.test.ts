import { describe, expect, it } from "vitest";
import { hashPassword, PBKDF2_ITERATIONS, verifyPassword } from "./password.ts";

describe("passwords", () => {
  it("hash with a random salt and verify", async () => {
    const a = await hashPassword("correct horse");
    const b = await hashPassword("correct horse");
    expect(a).not.toBe(b);
    expect(a.startsWith(`pbkdf2-sha256$${PBKDF2_ITERATIONS}$`)).toBe(true);
    expect(await verifyPassword("correct horse", a)).toBe(true);
    expect(await verifyPassword("correct horsf", a)).toBe(false);
    expect(await verifyPassword("correct horse", "garbage")).toBe(false);
  });

  it("verifies with the iteration count stored in the hash", async () => {
    // workerd itself accepts far more than 100,000 (1e8 measured); Cloudflare
    // caps at 100,000, so new hashes use that and old ones keep their count.
    const stronger = await hashPassword("x", PBKDF2_ITERATIONS + 1);
    expect(stronger.split("$")[1]).toBe(String(PBKDF2_ITERATIONS + 1));
    expect(await verifyPassword("x", stronger)).toBe(true);
    expect(await verifyPassword("x", stronger.replace(`$${PBKDF2_ITERATIONS + 1}$`, `$${PBKDF2_ITERATIONS}$`))).toBe(false);
  });
});
