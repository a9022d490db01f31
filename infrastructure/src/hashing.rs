//! The tamper-evidence hash of an event and the canonical JSON it is computed over.
//!
//! `hash = lower-hex SHA-256 of canonical_json([ "tessera-event/1", prev_hash, stream_id,
//! stream_version, event_id, event_type, schema_version, recorded_at, data, metadata ])` where
//! `recorded_at` is RFC 3339 UTC with exactly six fractional digits and a `Z`, and canonical JSON has
//! object keys sorted by their UTF-8 bytes and no insignificant white space. The global position is
//! deliberately not hashed: a KurrentDB backend only learns it after the write. Global order is
//! guarded instead by contiguous positions and a `recorded_at` that never decreases (see
//! docs/architecture.md).

use aws_lc_rs::digest;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use uuid::Uuid;

/// The `prev_hash` of the first event in a stream.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Everything the hash covers.
#[derive(Debug, Clone, Copy)]
pub struct HashInput<'a> {
    /// Hash of the previous event in the stream, or [`GENESIS_HASH`].
    pub prev_hash: &'a str,
    /// Stream name, `{category}-{id}`.
    pub stream_id: &'a str,
    /// Version in the stream (from 1).
    pub stream_version: u64,
    /// Hashed as its hyphenated lower-case text.
    pub event_id: Uuid,
    /// Type name as stored, e.g. `OpenTicketSeatsLocked`.
    pub event_type: &'a str,
    /// Schema version as stored (before any upcasting).
    pub schema_version: u32,
    /// Commit time (microsecond precision).
    pub recorded_at: DateTime<Utc>,
    /// The `data` object as stored, hashed as canonical JSON.
    pub data: &'a Value,
    /// The metadata object as stored, hashed as canonical JSON.
    pub metadata: &'a Value,
}

/// Canonical text is fed to the digest whenever this much has been written, so hashing a big
/// event (a 100,000-seat venue) never holds its whole canonical text.
const HASH_CHUNK: usize = 64 * 1024;

/// Where canonical JSON goes: a string, or a digest fed in chunks of [`HASH_CHUNK`].
struct Sink<'a> {
    buf: String,
    digest: Option<&'a mut digest::Context>,
}

impl Sink<'_> {
    fn push(&mut self, c: char) {
        self.buf.push(c);
    }

    fn push_str(&mut self, s: &str) {
        self.buf.push_str(s);
        if self.buf.len() >= HASH_CHUNK
            && let Some(d) = self.digest.as_deref_mut()
        {
            d.update(self.buf.as_bytes());
            self.buf.clear();
        }
    }
}

/// Compute the event hash (64 lower-case hex characters).
pub fn event_hash(input: &HashInput<'_>) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    let mut buf = Sink {
        buf: String::with_capacity(256),
        digest: Some(&mut context),
    };
    buf.push_str("[\"tessera-event/1\",");
    for s in [input.prev_hash, input.stream_id] {
        write_canonical(&Value::String(s.to_owned()), &mut buf);
        buf.push(',');
    }
    buf.push_str(&input.stream_version.to_string());
    buf.push(',');
    write_canonical(&Value::String(input.event_id.to_string()), &mut buf);
    buf.push(',');
    write_canonical(&Value::String(input.event_type.to_owned()), &mut buf);
    buf.push(',');
    buf.push_str(&input.schema_version.to_string());
    buf.push(',');
    write_canonical(
        &Value::String(format_timestamp(input.recorded_at)),
        &mut buf,
    );
    buf.push(',');
    write_canonical(input.data, &mut buf);
    buf.push(',');
    write_canonical(input.metadata, &mut buf);
    buf.push(']');
    let rest = std::mem::take(&mut buf.buf);
    context.update(rest.as_bytes());
    hex::encode(context.finish())
}

/// RFC 3339 UTC with six fractional digits, e.g. `2026-11-22T15:30:00.123456Z`. Fixed width, so
/// text comparison orders timestamps correctly (SQLite stores them this way).
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parse what [`format_timestamp`] wrote (any RFC 3339 is accepted).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Cut a timestamp to whole microseconds (what both databases keep).
pub fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// Canonical JSON text of a value (sorted keys, no white space).
pub fn canonical_json(value: &Value) -> String {
    let mut buf = Sink {
        buf: String::new(),
        digest: None,
    };
    write_canonical(value, &mut buf);
    buf.buf
}

fn write_canonical(value: &Value, buf: &mut Sink<'_>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            buf.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    buf.push(',');
                }
                buf.push_str(&Value::String(k.clone()).to_string());
                buf.push(':');
                write_canonical(v, buf);
            }
            buf.push('}');
        }
        Value::Array(items) => {
            buf.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(',');
                }
                write_canonical(v, buf);
            }
            buf.push(']');
        }
        scalar => buf.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v = json!({"b": 1, "a": {"d": [true, null], "c": "x\"y"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":"x\"y","d":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn big_events_hash_as_their_whole_canonical_text() {
        // Far over one digest chunk: the streamed hash must equal the hash of the whole text.
        let seats: Vec<Value> = (0..20_000)
            .map(|i| json!([format!("A-{i:06}"), "1", i, 0, 0, "Normal"]))
            .collect();
        let data = json!({"areas": [{"seats": seats, "areaId": "A"}]});
        let meta = json!({"b": 1, "a": 2});
        let t = parse_timestamp("2026-11-22T10:00:00.000001Z").unwrap();
        let input = HashInput {
            prev_hash: GENESIS_HASH,
            stream_id: "openticketVenue-1",
            stream_version: 1,
            event_id: Uuid::nil(),
            event_type: "OpenTicketVenueCreated",
            schema_version: 2,
            recorded_at: t,
            data: &data,
            metadata: &meta,
        };
        let text = format!(
            "[\"tessera-event/1\",\"{GENESIS_HASH}\",\"openticketVenue-1\",1,\"{}\",\"OpenTicketVenueCreated\",2,\"2026-11-22T10:00:00.000001Z\",{},{}]",
            Uuid::nil(),
            canonical_json(&data),
            canonical_json(&meta)
        );
        assert!(text.len() > 4 * HASH_CHUNK);
        let whole = hex::encode(digest::digest(&digest::SHA256, text.as_bytes()));
        assert_eq!(event_hash(&input), whole);
    }

    #[test]
    fn hash_changes_with_every_field() {
        let data = json!({"seat": "A-001"});
        let meta = json!({});
        let t = parse_timestamp("2026-11-22T10:00:00.000001Z").unwrap();
        let base = HashInput {
            prev_hash: GENESIS_HASH,
            stream_id: "order-1",
            stream_version: 1,
            event_id: Uuid::nil(),
            event_type: "Placed",
            schema_version: 1,
            recorded_at: t,
            data: &data,
            metadata: &meta,
        };
        let h = event_hash(&base);
        assert_eq!(h.len(), 64);
        let other_data = json!({"seat": "A-002"});
        let variants = [
            HashInput {
                stream_version: 2,
                ..base
            },
            HashInput {
                stream_id: "order-2",
                ..base
            },
            HashInput {
                event_type: "Paid",
                ..base
            },
            HashInput {
                schema_version: 2,
                ..base
            },
            HashInput {
                data: &other_data,
                ..base
            },
            HashInput {
                prev_hash: "ab",
                ..base
            },
            HashInput {
                recorded_at: t + chrono::Duration::microseconds(1),
                ..base
            },
        ];
        for v in variants {
            assert_ne!(event_hash(&v), h);
        }
        assert_eq!(event_hash(&base), h, "deterministic");
    }

    #[test]
    fn timestamps_are_fixed_width() {
        let t = parse_timestamp("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(format_timestamp(t), "2026-01-02T03:04:05.000000Z");
    }
}
