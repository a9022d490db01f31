//! Reading JSON request bodies with errors that name the field at fault as a JSON path
//! (`seatIds[1]`, `items[0].ticketPrice`), for every document to word in its own format.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not sent as JSON (`Content-Type` other than `application/json` or `*+json`), where the
    /// document requires it.
    #[error("expected a JSON body with `Content-Type: application/json`")]
    NotJson,
    /// Over the route's body limit (413).
    #[error("request body too large")]
    TooLarge,
    /// The body could not be read (the client went away, a bad transfer encoding …).
    #[error("{0}")]
    Unreadable(String),
    /// The JSON is malformed, or a field is missing or of the wrong type. `field` is the JSON path
    /// (`body` when no field can be named, e.g. a syntax error at the top).
    #[error("{field}: {reason}")]
    Invalid {
        /// JSON path of the field, as the client named it.
        field: String,
        /// What is wrong, in JSON terms (`expected a string, got the number 5`, `is required`,
        /// `malformed JSON: …` for syntax errors); never a Rust type name.
        reason: String,
    },
}

/// Whether the request declares a JSON body.
pub fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/json") || ct.contains("+json")
        })
}

/// The raw body of `req`, within the route's `DefaultBodyLimit`; with `require_json`, a request not
/// declaring JSON is refused first.
pub async fn read<S: Send + Sync>(
    req: Request,
    state: &S,
    require_json: bool,
) -> Result<Bytes, BodyError> {
    if require_json && !is_json(&req) {
        return Err(BodyError::NotJson);
    }
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge
        } else {
            BodyError::Unreadable(e.body_text())
        }
    })
}

/// Whether `c` breaks the one text rule every document shares: no control characters (C0
/// `U+0000`–`U+001F`, `DEL`, C1 `U+0080`–`U+009F`) in any text a client sends, except tab, line
/// feed and carriage return, which multi-line free text needs. Fields that must be one line
/// (names, e-mails, ids …) refuse those too through their own validators.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The reason every document gives for a string that breaks [`is_forbidden_char`].
pub const CONTROL_CHARACTER_REASON: &str =
    "must not contain control characters (only tab, line feed and carriage return are allowed)";

/// Deserialize `bytes` as `T`, naming the field at fault. Every string of the body (object keys
/// included) is first held to the text rule ([`is_forbidden_char`]), whatever `T` makes of it;
/// reasons are in the client's terms (`expected a whole number, got a string`), never Rust's.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    if let Some(field) = first_control_character(bytes) {
        return Err(BodyError::Invalid {
            field,
            reason: CONTROL_CHARACTER_REASON.to_owned(),
        });
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = strip_position(&inner.to_string());
        // serde reports a missing field at its parent's path; name the field itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        let parent = if path.is_empty() || path == "." || path == "?" {
            None
        } else {
            Some(path)
        };
        let field = match (parent, missing.as_deref()) {
            (Some(p), Some(m)) => format!("{p}.{m}"),
            (None, Some(m)) => m.to_owned(),
            (Some(p), None) => p,
            (None, None) => "body".to_owned(),
        };
        let reason = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("malformed JSON: {inner}")
            }
            _ if missing.is_some() => "is required".to_owned(),
            _ => client_words(&message),
        };
        BodyError::Invalid { field, reason }
    })
}

/// serde_json's message without its ` at line L column C` suffix (positions help with syntax
/// errors only, and those keep the whole message).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_owned(),
        _ => message.to_owned(),
    }
}

/// A serde data error in the client's terms: what JSON was expected and what was sent, without the
/// Rust types serde names (`struct LoginBody`, `u32`, `enum Role`).
fn client_words(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        return format!(
            "expected {}, got {}",
            expected_words(expected),
            got_words(got)
        );
    }
    if let Some(rest) = message.strip_prefix("invalid value: ")
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        return format!(
            "expected {}, got {}",
            expected_words(expected),
            got_words(got)
        );
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (got, allowed) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let allowed = allowed
            .trim_start_matches("one of ")
            .trim_start_matches("a ")
            .replace('`', "");
        return if allowed.is_empty() {
            format!("{} is not an allowed value", got.replace('`', ""))
        } else {
            format!("must be one of {allowed}, got {}", got.replace('`', ""))
        };
    }
    if message.starts_with("unknown field ") {
        return "is not a field of this request".to_owned();
    }
    if message.starts_with("invalid length ") {
        // serde also reads an object from an array of its members' values; say what clients send.
        if message.contains(", expected struct ") {
            return "expected an object, got an array".to_owned();
        }
        let expected = message
            .split_once(", expected ")
            .map(|(_, e)| expected_words(e))
            .unwrap_or_else(|| "another number of items".to_owned());
        return format!("has the wrong number of items: expected {expected}");
    }
    if message.starts_with("duplicate field ") {
        return "is given more than once".to_owned();
    }
    // A validating constructor's own message (`must be a UUID …`): ours, already in words, unless
    // it names a Rust type.
    if names_rust_type(message) {
        "has an invalid value".to_owned()
    } else {
        message.to_owned()
    }
}

/// What serde's `expected …` means in JSON terms.
fn expected_words(expected: &str) -> String {
    let e = expected.trim();
    let words = match e {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number of 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "true or false",
        "a string" | "a borrowed string" | "a character" | "char" | "string" => "a string",
        "a sequence" | "a tuple" | "sequence" => "an array",
        "a map" | "map" => "an object",
        "unit" => "null",
        _ if e.starts_with("struct ") || e.starts_with("tuple struct ") => "an object",
        _ if e.starts_with("a tuple of size") || e.starts_with("an array of length") => "an array",
        _ if e.starts_with("enum ") || e.contains("variant") => "one of the allowed values",
        _ if e.contains("Decimal") || e.contains("decimal") => "a number",
        _ if e.contains("UUID") || e.contains("uuid") => "a UUID",
        _ if e.contains("RFC 3339") || e.contains("datetime") || e.contains("date") => {
            "an RFC 3339 date-time"
        }
        _ if names_rust_type(e) => "another kind of value",
        _ => return e.replace('`', ""),
    };
    words.to_owned()
}

/// What serde's `invalid type: …` names as sent, in JSON terms.
fn got_words(got: &str) -> String {
    let g = got.trim();
    let words = match g {
        "map" => "an object",
        "sequence" => "an array",
        "unit value" | "null" => "null",
        _ if g.starts_with("string ") => return format!("the string {}", &g[7..]),
        _ if g.starts_with("integer ") || g.starts_with("floating point ") => {
            return format!(
                "the number {}",
                g.rsplit(' ').next().unwrap_or("").replace('`', "")
            );
        }
        _ if g.starts_with("boolean ") => {
            return g.trim_start_matches("boolean ").replace('`', "");
        }
        _ if names_rust_type(g) => "another kind of value",
        _ => return g.replace('`', ""),
    };
    words.to_owned()
}

/// Whether `text` names a Rust type: `struct X`, `enum X`, a `::` path, or a `…Body` / `…Request`
/// type name.
pub fn names_rust_type(text: &str) -> bool {
    text.contains("struct ")
        || text.contains("enum ")
        || text.contains("::")
        || text
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .any(|word| {
                word.len() > 4
                    && word.starts_with(|c: char| c.is_ascii_uppercase())
                    && ["Body", "Request", "Command", "Input", "Params"]
                        .iter()
                        .any(|suffix| word.ends_with(suffix) && word != *suffix)
            })
}

/// The JSON path (`items[2].name`) of the first string or object key in `bytes` that breaks the
/// text rule; `None` when there is none or when the JSON is malformed (the real parse reports
/// that). Streams through the body: memory is bounded by its nesting, not its size.
fn first_control_character(bytes: &[u8]) -> Option<String> {
    use serde::de::Deserializer as _;
    let mut path = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // A syntax error yields `None`: the real parse reports it with its position.
    (&mut de)
        .deserialize_any(TextScan { path: &mut path })
        .ok()
        .flatten()
}

/// One step of a JSON path.
enum Step {
    Key(String),
    Index(usize),
}

fn render_path(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        "body".to_owned()
    } else {
        out
    }
}

/// Visits one JSON value; yields the path of the first offending string inside it.
struct TextScan<'p> {
    path: &'p mut Vec<Step>,
}

impl<'de> serde::de::DeserializeSeed<'de> for TextScan<'_> {
    type Value = Option<String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TextScan<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.chars()
            .any(is_forbidden_char)
            .then(|| render_path(self.path)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut index = 0;
        let mut found = None;
        loop {
            self.path.push(Step::Index(index));
            let next = if found.is_none() {
                seq.next_element_seed(TextScan { path: self.path })?
                    .map(|f| found = f)
            } else {
                seq.next_element::<serde::de::IgnoredAny>()?.map(|_| ())
            };
            self.path.pop();
            if next.is_none() {
                return Ok(found);
            }
            index += 1;
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            self.path.push(Step::Key(key.clone().into_owned()));
            if found.is_none() && key.chars().any(is_forbidden_char) {
                found = Some(render_path(self.path));
            }
            if found.is_none() {
                found = map.next_value_seed(TextScan { path: self.path })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
            self.path.pop();
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct SampleBody {
        name: String,
        count: u32,
        tags: Vec<String>,
        inner: Option<InnerRequest>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct InnerRequest {
        kind: Kind,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    enum Kind {
        Alpha,
        Beta,
    }

    fn refusal(json: &str) -> (String, String) {
        match parse_json::<SampleBody>(json.as_bytes()) {
            Err(BodyError::Invalid { field, reason }) => (field, reason),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn control_characters_anywhere_are_refused_with_their_path() {
        let ok = r#"{"name":"a\tb\nc\r","count":1,"tags":[]}"#;
        assert!(parse_json::<SampleBody>(ok.as_bytes()).is_ok());
        for (json, field) in [
            (r#"{"name":"a\u0000","count":1,"tags":[]}"#, "name"),
            (
                r#"{"name":"a","count":1,"tags":["x","\u001b[0m"]}"#,
                "tags[1]",
            ),
            (
                r#"{"name":"a","count":1,"tags":[],"inner":{"kind":"\u0085"}}"#,
                "inner.kind",
            ),
            (r#"{"name":"a","count":1,"tags":[],"x\u0007":1}"#, "x\u{7}"),
            ("\"\\u007f\"", "body"),
        ] {
            let (f, reason) = refusal(json);
            assert_eq!(f, field, "{json}");
            assert_eq!(reason, CONTROL_CHARACTER_REASON);
        }
    }

    #[test]
    fn reasons_name_json_kinds_never_rust_types() {
        for json in [
            "5",
            "[]",
            r#"{"name":5,"count":1,"tags":[]}"#,
            r#"{"name":"a","count":-1,"tags":[]}"#,
            r#"{"name":"a","count":"1","tags":[]}"#,
            r#"{"name":"a","count":1,"tags":{}}"#,
            r#"{"name":"a","count":1,"tags":[],"inner":5}"#,
            r#"{"name":"a","count":1,"tags":[],"inner":{"kind":"Gamma"}}"#,
            r#"{"name":"a","count":1,"tags":[],"inner":{"kind":{}}}"#,
            r#"{"name":"a","count":1,"tags":[],"extra":1}"#,
            r#"{"name":"a","tags":[]}"#,
            r#"{"name":"a","#,
        ] {
            let (field, reason) = refusal(json);
            assert!(!names_rust_type(&reason), "{json}: {field}: {reason}");
            assert!(!reason.contains("u32"), "{json}: {reason}");
        }
        assert_eq!(
            refusal(r#"{"name":"a","count":"1","tags":[]}"#),
            (
                "count".to_owned(),
                "expected a whole number of 0 or more, got the string \"1\"".to_owned()
            )
        );
        assert_eq!(refusal(r#"{"name":"a","tags":[]}"#).1, "is required");
        assert_eq!(refusal("5").1, "expected an object, got the number 5");
        assert_eq!(refusal("[]").1, "expected an object, got an array");
    }
}
