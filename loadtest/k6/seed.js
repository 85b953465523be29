// The k6 twin of `npm run loadtest -- --scenario seed`, for machines that have
// k6: the same scenario file, the same loop and the same message body
// ({"t":<send time>,…}, so either tool can read the other's messages).
// It measures less (no lost-message accounting, no server sampling): the
// Node runner is the reference. CI only checks that this file parses.
//   k6 run -e TARGET=http://127.0.0.1:8787 loadtest/k6/seed.js
/* global open, __ENV, __VU, __ITER */
import http from "k6/http";
import ws from "k6/ws";
import { check, sleep } from "k6";
import { Counter, Trend } from "k6/metrics";

const scenario = JSON.parse(open("../scenarios/seed.json"));
const BASE = __ENV.TARGET || "http://127.0.0.1:8787";
const PREFIX = __ENV.USER_PREFIX || "lt-user-";
const PASSWORD = __ENV.PASSWORD || "loadtest-password";
const work = scenario.workload;
const peak = Math.max(...scenario.stages.map((s) => s.target));
const t = scenario.targets;

const e2e = new Trend("message_e2e", true);
const sent = new Counter("messages_sent");
const received = new Counter("messages_received");

export const options = {
  stages: scenario.stages.map((s) => ({ duration: typeof s.duration === "number" ? `${s.duration}s` : s.duration, target: s.target })),
  setupTimeout: "30m",
  thresholds: {
    message_e2e: [`avg<=${t.e2eAvgMs}`, `p(99)<=${t.e2eP99Ms}`],
    ws_connecting: [`p(99)<=${t.connectP99Ms}`],
  },
};

/** "45s", "250ms", "2m" or seconds, in ms. */
function ms(d) {
  const m = /^([\d.]+)(ms|s|m|h)$/.exec(String(d));
  return m ? Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 36e5 }[m[2]] : Number(d) * 1000;
}

/** Users as the Node runner names them (lt-user-00000…), registered if new; one room per usersPerRoom users. */
export function setup() {
  const params = { headers: { "Content-Type": "application/json" } };
  const tokens = [];
  for (let i = 0; i < peak; i += 50) {
    const creds = [];
    for (let k = i; k < Math.min(peak, i + 50); k++)
      creds.push(JSON.stringify({ username: PREFIX + String(k).padStart(5, "0"), password: PASSWORD }));
    http.batch(creds.map((body) => ["POST", `${BASE}/auth/register`, body, params]));
    for (const r of http.batch(creds.map((body) => ["POST", `${BASE}/auth/login`, body, params]))) tokens.push(r.json("token"));
  }
  const run = `k6-${Date.now().toString(36)}`;
  const per = scenario.rooms.usersPerRoom;
  for (let r = 0; r * per < peak; r++) {
    const auth = { headers: { ...params.headers, Authorization: `Bearer ${tokens[r * per]}` } };
    http.post(`${BASE}/rooms`, JSON.stringify({ id: `${run}-${r}`, type: scenario.rooms.type }), auth);
  }
  return { tokens, run };
}

/** One iteration: connect, send after the welcome, receive, stay, close. */
export default function (data) {
  const vu = __VU - 1;
  const room = `${data.run}-${Math.floor(vu / scenario.rooms.usersPerRoom)}`;
  const stay = ms(work.connected) * (1 + (work.jitter || 0) * (2 * Math.random() - 1));
  const url = `${BASE.replace(/^http/, "ws")}/rooms/${room}/ws`;
  const res = ws.connect(url, { headers: { Authorization: `Bearer ${data.tokens[vu]}` } }, (socket) => {
    socket.on("message", (raw) => {
      const frame = JSON.parse(raw);
      if (frame.type === "welcome") {
        for (let i = 0; i < work.sendsPerConnection; i++) {
          socket.send(
            JSON.stringify({ type: "send", clientMsgId: `${__VU}.${__ITER}.${i}`, body: JSON.stringify({ t: Date.now(), p: "k6" }) }),
          );
          sent.add(1);
        }
      } else if (frame.type === "message") {
        received.add(1);
        if (frame.body.startsWith('{"t":')) e2e.add(Date.now() - JSON.parse(frame.body).t);
      }
    });
    socket.setTimeout(() => socket.close(), stay);
  });
  check(res, { "upgraded (101)": (r) => r && r.status === 101 });
  if (ms(work.pause) > 0) sleep(ms(work.pause) / 1000);
}
