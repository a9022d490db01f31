//! Reading an OpenAPI 3.1 document in tests: its operations, `$ref`s, parameters and response
//! schemas, and a strict validator for the subset of JSON Schema 2020-12 that utoipa emits (the
//! same rules as `tests/tests/openapi.rs`): objects are closed, so a property the schema does not
//! declare is an error unless `additionalProperties` allows it, because the document claims to
//! describe the API's JSON exactly.

use serde_json::Value;
use std::collections::BTreeSet;

/// The HTTP methods a path item may hold, in OpenAPI's spelling.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// Every `(METHOD, path, operation)` of the document.
pub fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((m.to_ascii_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// Follow a local `$ref` (`#/components/...`); `None` when it does not resolve.
pub fn resolve_ref<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if !pointer.starts_with("/components/") {
        return None;
    }
    doc.pointer(pointer)
}

/// The value itself, or what its `$ref` points at (repeatedly). Panics on a dangling `$ref`.
pub fn deref<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => v = resolve_ref(doc, r).unwrap_or_else(|| panic!("dangling $ref {r}")),
            None => return v,
        }
    }
    panic!("$ref chain too long")
}

/// Every `$ref` anywhere in the document as `(where, target)`, and those that do not resolve.
pub fn refs(doc: &Value) -> (usize, Vec<String>) {
    fn walk(doc: &Value, v: &Value, at: &str, count: &mut usize, bad: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    if k == "$ref" {
                        *count += 1;
                        let ok = child
                            .as_str()
                            .is_some_and(|r| resolve_ref(doc, r).is_some());
                        if !ok {
                            bad.push(format!("{at}: {child}"));
                        }
                    } else {
                        walk(doc, child, &format!("{at}/{k}"), count, bad);
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(doc, child, &format!("{at}/{i}"), count, bad);
                }
            }
            _ => {}
        }
    }
    let mut count = 0;
    let mut bad = Vec::new();
    walk(doc, doc, "#", &mut count, &mut bad);
    (count, bad)
}

/// The operation's parameters (refs followed) that are `in` `place` (`path`, `query`, `header`).
pub fn params_in(doc: &Value, op: &Value, place: &str) -> Vec<Value> {
    op["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| deref(doc, p).clone())
                .filter(|p| p["in"] == place)
                .collect()
        })
        .unwrap_or_default()
}

/// Names of the operation's path parameters.
pub fn path_params(doc: &Value, op: &Value) -> Vec<String> {
    params_in(doc, op, "path")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The JSON schema of `op`'s response `status`, if it has an `application/json` body.
pub fn response_schema<'a>(doc: &'a Value, op: &'a Value, status: u16) -> Option<&'a Value> {
    let response = op["responses"].get(status.to_string())?;
    let response = deref(doc, response);
    response["content"].get("application/json")?.get("schema")
}

/// Whether one of the operation's security requirements names `scheme`.
pub fn requires(op: &Value, scheme: &str) -> bool {
    op["security"]
        .as_array()
        .is_some_and(|reqs| reqs.iter().any(|r| r.get(scheme).is_some()))
}

/// `template` with each `{name}` replaced by `value(name)`.
pub fn fill(template: &str, mut value: impl FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').expect("closing brace") + open;
        out.push_str(&value(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// What is wrong with `value` against `schema` (within `doc`), with JSON paths; empty when it
/// matches.
pub fn errors_of(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut e = Vec::new();
    validate(doc, schema, value, "$", &mut e);
    e
}

/// Validate `value` against `schema` and collect what is wrong, with JSON paths.
pub fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(b) = schema.as_bool() {
        if !b {
            errors.push(format!("{at}: schema `false` admits nothing"));
        }
        return;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        match resolve_ref(doc, r) {
            Some(target) => validate(doc, target, value, at, errors),
            None => errors.push(format!("{at}: dangling $ref {r}")),
        }
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            validate(doc, s, value, at, errors);
        }
    }
    for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
            let matching = options
                .iter()
                .filter(|s| {
                    let mut e = Vec::new();
                    validate(doc, s, value, at, &mut e);
                    e.is_empty()
                })
                .count();
            let ok = if exactly_one {
                matching == 1
            } else {
                matching >= 1
            };
            if !ok {
                errors.push(format!(
                    "{at}: {matching} of the {keyword} options match {value}"
                ));
            }
        }
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.iter().any(|t| type_matches(t, value)) {
            errors.push(format!("{at}: {value} is not of type {allowed:?}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{at}: {value} is not {c}"));
    }
    if let (Some(format), Some(text)) =
        (schema.get("format").and_then(Value::as_str), value.as_str())
    {
        let ok = match format {
            "uuid" => uuid::Uuid::parse_str(text).is_ok(),
            "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: {text:?} is not a {format}"));
        }
    }
    if let (Some(pattern), Some(text)) = (
        schema.get("pattern").and_then(Value::as_str),
        value.as_str(),
    ) && !simple_pattern_matches(pattern, text)
    {
        errors.push(format!("{at}: {text:?} does not match {pattern}"));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{at}: {n} < minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{at}: {n} > maximum {max}"));
        }
    }
    if let Some(object) = value.as_object() {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    errors.push(format!("{at}: required property `{name}` is missing"));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (name, member) in object {
            let member_at = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(s) => validate(doc, s, member, &member_at, errors),
                None => match additional {
                    Some(Value::Bool(true)) => {}
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{member_at}: not allowed by the schema"))
                    }
                    Some(s) => validate(doc, s, member, &member_at, errors),
                    // Closed world: only a schema that declares no properties at all is free-form.
                    None if properties.is_some() => {
                        errors.push(format!("{member_at}: not declared by the schema"))
                    }
                    None => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(doc, items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

/// The patterns the documents use: `^` + a sequence of literal characters, `[0-9]` and
/// `[0-9]{n}` + `$`. Anything else is accepted (not checked).
fn simple_pattern_matches(pattern: &str, text: &str) -> bool {
    let Some(body) = pattern.strip_prefix('^').and_then(|p| p.strip_suffix('$')) else {
        return true;
    };
    let mut chars = text.chars();
    let mut rest = body;
    while !rest.is_empty() {
        let (count, after) = if let Some(r) = rest.strip_prefix("[0-9]") {
            match r.strip_prefix('{').and_then(|r| r.split_once('}')) {
                Some((n, after)) => match n.parse::<usize>() {
                    Ok(n) => (n, after),
                    Err(_) => return true,
                },
                None => (1, r),
            }
        } else {
            let c = rest.chars().next().unwrap_or_default();
            if "[](){}*+?|\\.".contains(c) {
                return true;
            }
            if chars.next() != Some(c) {
                return false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        };
        for _ in 0..count {
            if !chars.next().is_some_and(|c| c.is_ascii_digit()) {
                return false;
            }
        }
        rest = after;
    }
    chars.next().is_none()
}

/// The checks every document's operations pass: the documented `(METHOD, path)` pairs are exactly
/// `expected` (method upper-case, path as templated); each operation has a declared tag, a summary,
/// an `operationId` unique across the document (it names a generated client's method), path
/// parameters declared exactly as the template names them, and a description for every parameter.
pub fn check_operations(doc: &Value, expected: &BTreeSet<(String, String)>) {
    let documented: BTreeSet<(String, String)> = operations(doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(expected).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    assert!(extra.is_empty(), "documented but not expected: {extra:?}");

    // Every operation is tagged with a declared tag, summarised, and uniquely identified.
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let mut ids = BTreeSet::new();
    for (m, p, op) in operations(doc) {
        let op_tags = op["tags"].as_array().cloned().unwrap_or_default();
        assert!(!op_tags.is_empty(), "{m} {p} has no tag");
        for tag in op_tags {
            assert!(
                tag.as_str().is_some_and(|t| tags.contains(t)),
                "{m} {p}: tag {tag} is not declared"
            );
        }
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{m} {p} has no summary"
        );
        // Operation ids name the generated client's methods: unique across the document.
        let id = op["operationId"].as_str().unwrap_or("").to_owned();
        assert!(!id.is_empty(), "{m} {p} has no operationId");
        assert!(
            ids.insert(id.clone()),
            "{m} {p}: operationId {id} is used twice"
        );
        // Path parameters are declared exactly as the template names them.
        let mut declared = path_params(doc, &op);
        declared.sort();
        let mut in_template = Vec::new();
        fill(&p, |name| {
            in_template.push(name.to_owned());
            String::new()
        });
        in_template.sort();
        assert_eq!(declared, in_template, "{m} {p}: path parameters");
        for param in op["parameters"].as_array().into_iter().flatten() {
            let param = deref(doc, param);
            assert!(
                param["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{m} {p}: parameter {} has no description",
                param["name"]
            );
        }
    }
    assert_eq!(ids.len(), expected.len());
}

/// Check one answer of the operation `op` against the document, pushing what is wrong to
/// `problems` as `"{label} …"`: the status is documented; a body comes exactly when one is
/// documented; its content type is documented; a JSON body (`application/json` or `*+json`)
/// matches its schema (other media, e.g. an HTML page, are only checked for their type).
#[allow(clippy::too_many_arguments)]
pub fn check_response(
    doc: &Value,
    op: &Value,
    label: &str,
    status: u16,
    content_type: &str,
    text: &str,
    parsed: &Value,
    problems: &mut Vec<String>,
) {
    let Some(response) = op["responses"].get(status.to_string()) else {
        problems.push(format!(
            "{label}: answered {status}, not documented: {text}"
        ));
        return;
    };
    let response = deref(doc, response);
    let content = response["content"].as_object().cloned().unwrap_or_default();
    if content.is_empty() {
        if !text.is_empty() {
            problems.push(format!(
                "{label} {status}: documented without a body: {text}"
            ));
        }
        return;
    }
    let media = content_type.split(';').next().unwrap_or("").trim();
    match content.get(media) {
        None => problems.push(format!(
            "{label} {status}: content type {content_type:?} not documented"
        )),
        Some(m) if media == "application/json" || media.ends_with("+json") => {
            for e in errors_of(doc, &m["schema"], parsed) {
                problems.push(format!("{label} {status}: {e}"));
            }
        }
        Some(_) => {}
    }
}
