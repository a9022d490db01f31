// Watches one OpenTicket session through /hubs/tickets with the official @microsoft/signalr client,
// as seed 003 §8.1 writes it, and reports what arrived as JSON lines on stdout. Driven by
// tests/tests/openticket_live.rs.
//
// Usage: node watch.js '<json options>'
//   url          hub URL, e.g. http://127.0.0.1:PORT/hubs/tickets
//   token        access token (omit for an anonymous connection)
//   sessionId    the session to join
//   transport    "WebSockets" | "ServerSentEvents" | "LongPolling" (omit: the client chooses)
//   untilSeat    stop after SeatStatusChanged for this seat ...
//   untilStatus  ... with this status
//   probeErrors  also invoke an unknown method and JoinSession with a bad argument
//   timeoutMs    give up after this long (a guard against hanging, not a measurement)
//
// Lines: {"event":"ready",...} once joined; {"event":"reconnected"} after an automatic
// reconnection (the session is joined again first); finally {"event":"done",...} with every
// notification received, or {"event":"failed","error":...}.
"use strict";
const signalR = require("@microsoft/signalr");

const options = JSON.parse(process.argv[2]);
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");

async function main() {
  const seats = [];
  const orders = [];
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const httpOptions = {};
  if (options.token) httpOptions.accessTokenFactory = () => options.token;
  if (options.transport) httpOptions.transport = signalR.HttpTransportType[options.transport];
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(options.url, httpOptions)
    .withAutomaticReconnect([0, 200, 500, 1000, 1000, 1000, 2000, 2000, 2000, 2000, 5000, 5000])
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  connection.on("SeatStatusChanged", (data) => {
    seats.push(data);
    if (data.seatId === options.untilSeat && data.status === options.untilStatus) finish();
  });
  connection.on("OrderStatusChanged", (data) => {
    orders.push(data);
  });
  connection.onreconnected(async () => {
    await connection.invoke("JoinSession", options.sessionId);
    say({ event: "reconnected", transport: transportName(connection) });
  });
  connection.onclose((error) => finish(error ? String(error) : "closed"));

  await connection.start();
  await connection.invoke("JoinSession", options.sessionId);
  const ready = { event: "ready", transport: transportName(connection) };
  if (options.probeErrors) {
    ready.unknownMethod = await failure(connection.invoke("NoSuchMethod", options.sessionId));
    ready.badArgument = await failure(connection.invoke("JoinSession", "not-a-uuid"));
    ready.noArgument = await failure(connection.invoke("JoinSession"));
    ready.unknownSession = await failure(
      connection.invoke("JoinSession", "00000000-0000-7000-8000-000000000000"),
    );
    // The connection still works after failed invocations.
    ready.leaveAndRejoin = await failure(
      connection
        .invoke("LeaveSession", options.sessionId)
        .then(() => connection.invoke("JoinSession", options.sessionId)),
    );
  }
  say(ready);

  const timer = setTimeout(() => finish("timeout"), options.timeoutMs || 30000);
  const reason = await finished;
  clearTimeout(timer);
  const done = { event: "done", seats, orders, stoppedBy: reason || "untilSeat" };
  await connection.stop();
  say(done);
}

function transportName(connection) {
  const t = connection.connection && connection.connection.transport;
  return t ? t.constructor.name : null;
}

async function failure(promise) {
  try {
    await promise;
    return null;
  } catch (e) {
    return String(e && e.message ? e.message : e);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    say({ event: "failed", error: String(e && e.stack ? e.stack : e) });
    process.exit(1);
  },
);
