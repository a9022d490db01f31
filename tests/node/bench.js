// Commit-to-receipt delay of SeatStatusChanged with many clients watching one session, over
// WebSockets with the official client. Run by tests/benches/live_delay.rs (not a test).
//
// Usage: node bench.js '{"base","token","sessionId","clients","locks","seats":[...]}'
// For each lock: t0 just before `POST …/seats/lock` is sent (so the delay includes the request's
// handling up to the commit: an upper bound of commit → receipt), then the time until every client
// has received that seat's `Locked`. Prints one JSON line with p50/p95/p99/max in milliseconds.
"use strict";
const signalR = require("@microsoft/signalr");
const { performance } = require("node:perf_hooks");

const o = JSON.parse(process.argv[2]);

async function main() {
  const waiting = new Map(); // seatId -> {t0, left, resolve}
  const delays = [];
  const connections = [];
  for (let i = 0; i < o.clients; i++) {
    const c = new signalR.HubConnectionBuilder()
      .withUrl(`${o.base}/hubs/tickets`, {
        transport: signalR.HttpTransportType.WebSockets,
        skipNegotiation: false,
      })
      .configureLogging(signalR.LogLevel.Error)
      .build();
    c.on("SeatStatusChanged", (d) => {
      const w = waiting.get(d.seatId);
      if (!w || d.status !== "Locked") return;
      delays.push(performance.now() - w.t0);
      if (--w.left === 0) w.resolve();
    });
    connections.push(c);
  }
  // Connect in batches so the server's accept queue is not the thing measured.
  for (let i = 0; i < connections.length; i += 50) {
    await Promise.all(
      connections.slice(i, i + 50).map(async (c) => {
        await c.start();
        await c.invoke("JoinSession", o.sessionId);
      }),
    );
  }
  for (const seat of o.seats.slice(0, o.locks)) {
    const done = new Promise((resolve) => {
      waiting.set(seat, { t0: performance.now(), left: connections.length, resolve });
    });
    const r = await fetch(`${o.base}/v1/sessions/${o.sessionId}/seats/lock`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${o.token}` },
      body: JSON.stringify({ seatIds: [seat] }),
    });
    if (r.status !== 200) throw new Error(`lock ${seat}: ${r.status} ${await r.text()}`);
    await done;
  }
  delays.sort((a, b) => a - b);
  const q = (p) => delays[Math.min(delays.length - 1, Math.floor((p / 100) * delays.length))];
  const ms = (x) => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      clients: connections.length,
      locks: o.locks,
      samples: delays.length,
      p50_ms: ms(q(50)),
      p95_ms: ms(q(95)),
      p99_ms: ms(q(99)),
      max_ms: ms(delays[delays.length - 1]),
    }),
  );
  await Promise.all(connections.map((c) => c.stop()));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
