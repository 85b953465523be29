// Imported first by main.ts, so that it runs before @roomcast/client builds
// its schemas. zod compiles fast parsers with `new Function` when it may; the
// page's policy has no 'unsafe-eval', so its probe would be refused, and the
// browser reports even a caught refusal as a CSP violation.
import { config } from "zod";

config({ jitless: true });
