//! The official npm SignalR client (`@microsoft/signalr`, installed in tests/node) driven from
//! Rust tests: [`Watcher::start`] runs `node watch.js` against a server's `/hubs/tickets`, joins
//! one OpenTicket session and reports what it received as JSON lines; [`Watcher::script`] runs any
//! other script of tests/node the same way. Used by tests/tests/openticket_live.rs (one server)
//! and tests/tests/multiprocess.rs (a client of one OS process hearing another's writes).
//!
//! Needs `node` and `npm` on the `PATH`: the client is installed with `npm ci` in tests/node the
//! first time a watcher starts, unless `.ci/run` did it already.

use serde_json::{Value, json};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;
use tokio::sync::mpsc;

/// tests/node: the scripts and their `node_modules`.
pub fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// `npm ci` in tests/node once per test binary, when `@microsoft/signalr` is not installed yet.
///
/// # Panics
/// When npm is missing or `npm ci` fails.
pub fn ensure_client() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if node_dir()
            .join("node_modules/@microsoft/signalr/package.json")
            .exists()
        {
            return;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(node_dir())
            .status()
            .expect("npm is needed for these tests (Node.js and npm; see .ci/run)");
        assert!(status.success(), "npm ci in tests/node failed");
    });
}

/// What a watcher (`watch.js`) is told to do.
pub struct Watch<'a> {
    /// The server's base URL, e.g. `http://127.0.0.1:PORT` (the hub is `{base}/hubs/tickets`).
    pub base: &'a str,
    /// An access token (the client's `accessTokenFactory`); `None` connects anonymously.
    pub token: Option<&'a str>,
    /// The session to `JoinSession` (UUID).
    pub session: &'a str,
    /// `WebSockets`, `ServerSentEvents` or `LongPolling`; `None` lets the client choose.
    pub transport: Option<&'a str>,
    /// `(seatId, status)`: the watcher reports `done` after the `SeatStatusChanged` for this
    /// seat with this status.
    pub until: (&'a str, &'a str),
    /// Also invoke an unknown method and `JoinSession` with bad arguments, reporting the
    /// completions' errors in the `ready` line.
    pub probe_errors: bool,
}

/// A `node` process running one script of tests/node: its stdout's JSON lines as they come.
/// Killed when dropped.
pub struct Watcher {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// The name failures mention.
    pub name: String,
}

impl Watcher {
    /// Start `watch.js` as `w` says (it gives up by itself after 60 s without its `until` seat).
    ///
    /// # Panics
    /// When the client cannot be installed or `node` cannot be started.
    pub fn start(name: &str, w: Watch<'_>) -> Watcher {
        let mut options = json!({
            "url": format!("{}/hubs/tickets", w.base),
            "sessionId": w.session,
            "untilSeat": w.until.0,
            "untilStatus": w.until.1,
            "probeErrors": w.probe_errors,
            "timeoutMs": 60_000,
        });
        if let Some(token) = w.token {
            options["token"] = json!(token);
        }
        if let Some(transport) = w.transport {
            options["transport"] = json!(transport);
        }
        Watcher::script(name, "watch.js", &options)
    }

    /// Any script of tests/node run with one JSON argument, read as JSON lines like a watcher
    /// (its stderr goes to the test's).
    ///
    /// # Panics
    /// When the client cannot be installed or `node` cannot be started.
    pub fn script(name: &str, script: &str, options: &Value) -> Watcher {
        ensure_client();
        let mut child = Command::new("node")
            .arg(script)
            .arg(options.to_string())
            .current_dir(node_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node is needed for these tests");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watcher {
            child,
            lines,
            name: name.to_owned(),
        }
    }

    /// The next line, parsed, which must have `"event": event` (a guard of 90 s against a hung
    /// client, not a measurement).
    ///
    /// # Panics
    /// When no line comes, the script exited, the line is not JSON or is another event.
    pub async fn expect(&mut self, event: &str) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(90), self.lines.recv())
            .await
            .unwrap_or_else(|_| panic!("{}: no `{event}` line", self.name))
            .unwrap_or_else(|| panic!("{}: exited before `{event}`", self.name));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["event"], event, "{}: {value}", self.name);
        value
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(seatId, status)` of each `SeatStatusChanged` in a watcher's `done` line, in arrival order,
/// checking each payload's shape (this `session`, a position > 0, an RFC 3339 UTC timestamp).
///
/// # Panics
/// When a payload has another shape.
pub fn seat_changes(done: &Value, session: &str) -> Vec<(String, String)> {
    done["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["sessionId"], session, "{s}");
            assert!(s["position"].as_u64().is_some_and(|p| p > 0), "{s}");
            let ts = s["timestamp"].as_str().unwrap();
            assert!(
                chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z'),
                "{s}"
            );
            (
                s["seatId"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `(orderId, status)` of each `OrderStatusChanged` in a watcher's `done` line, in arrival order.
///
/// # Panics
/// When a payload lacks either field.
pub fn order_changes(done: &Value) -> Vec<(String, String)> {
    done["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["orderId"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Owned pairs, to compare with [`seat_changes`] and [`order_changes`].
pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}
