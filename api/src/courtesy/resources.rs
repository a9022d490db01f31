//! `res_query {hash}` → `{res: {sha_256, id}, time}` or 404.

use super::Call;
use super::error::{Answer, CourtesyApiError, string};
use crate::startup::AppState;
use serde_json::{Value, json};

/// `res_query`: 402 `hash` when absent, 401 `hash` when not hexadecimal, 404 when not stored.
pub async fn query(
    state: &AppState,
    _call: &Call,
    body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let hash = string(body, "hash")?.to_ascii_lowercase();
    if hash.is_empty() || hash.len() > 128 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CourtesyApiError::Invalid("hash".into()));
    }
    let id = state.services.courtesy.resource_by_hash(&hash).await?;
    let mut answer = Answer::new();
    let res = super::views::ResView { sha_256: hash, id };
    answer.insert("res".into(), json!(res));
    answer.insert("time".into(), json!(super::error::unix_now()));
    Ok(answer)
}
