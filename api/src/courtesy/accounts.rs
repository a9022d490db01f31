//! `user_register`, `user_login`, `user_logout`, `user_info`, `user_edit_profile`.

use super::Call;
use super::error::{Answer, CourtesyApiError, object, string};
use crate::http::read_your_writes;
use crate::startup::AppState;
use serde_json::{Value, json};
use tessera_domain::courtesy::profile::ProfileChange;

/// `user_register {account: {email, pwd}}` → `{error: 0}`; 401/402 (`account`, `email`, `pwd`),
/// 405 `email`.
pub async fn register(
    state: &AppState,
    call: &Call,
    body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let account = object(body, "account")?;
    let email = string(account, "email")?;
    let pwd = string(account, "pwd")?;
    let done = state
        .services
        .courtesy
        .register(email, pwd, &call.rid.metadata(None))
        .await?;
    read_your_writes(state, done.position).await;
    Ok(Answer::new())
}

/// `user_login {account: {email, pwd}}` → `{error: 0}` and the `sessionid` cookie (the api
/// handler sets it from the answer's private `__session` member); 406, 407.
pub async fn login(
    state: &AppState,
    call: &Call,
    body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let account = object(body, "account")?;
    let email = string(account, "email")?;
    let pwd = string(account, "pwd")?;
    let done = state
        .services
        .courtesy
        .login(email, pwd, &call.rid.metadata(None))
        .await?;
    read_your_writes(state, done.position).await;
    let mut answer = Answer::new();
    if let (Some(token), Some(until)) = (done.session, done.session_expires_at) {
        answer.insert(
            super::SET_SESSION.into(),
            json!({"value": token, "until": until.timestamp()}),
        );
    }
    Ok(answer)
}

/// `user_logout` → `{error: 0}`; 403 without a live session. Clears the cookie.
pub async fn logout(
    state: &AppState,
    call: &Call,
    _body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let session = call.session.as_deref().ok_or(CourtesyApiError::Forbidden)?;
    state.services.courtesy.logout(session).await?;
    let mut answer = Answer::new();
    answer.insert(super::SET_SESSION.into(), json!({"value": "", "until": 0}));
    Ok(answer)
}

/// `user_info` → `{account_info: {user_id, email, registered_at, last_login_at, card_count,
/// has_profile, profile}}`; 403.
pub async fn info(
    state: &AppState,
    call: &Call,
    _body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let user = call.user(state).await?;
    let info = state.services.courtesy.info(user).await?;
    let card_count = state
        .services
        .courtesy_queries
        .card_count(&user.to_string())
        .await?;
    let view = super::views::AccountInfoView::new(info, card_count);
    let mut answer = Answer::new();
    answer.insert(
        "account_info".into(),
        serde_json::to_value(view).map_err(|e| CourtesyApiError::Unavailable(e.to_string()))?,
    );
    Ok(answer)
}

fn text(profile: &Value, name: &str) -> Result<Option<String>, CourtesyApiError> {
    match profile.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(CourtesyApiError::Invalid(name.into())),
    }
}

/// The avatar as an id: the 32-hex id itself, or a served path such as
/// `\static\avatar\{id}_300.png` (the seed's example) reduced to its id.
fn avatar_id(raw: String) -> String {
    let name = raw.rsplit(['/', '\\']).next().unwrap_or(&raw);
    let id = name.split(['_', '.']).next().unwrap_or(name);
    if raw.contains(['/', '\\']) {
        id.to_owned()
    } else {
        raw
    }
}

/// `user_edit_profile {profile: {...}}` → `{error: 0}`; 401 + the first invalid field, 402
/// `profile`, 403.
pub async fn edit_profile(
    state: &AppState,
    call: &Call,
    body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let user = call.user(state).await?;
    let p = object(body, "profile")?;
    let gender = match p.get("gender") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|g| u8::try_from(g).ok())
                .ok_or_else(|| CourtesyApiError::Invalid("gender".into()))?,
        ),
    };
    let change = ProfileChange {
        nick: text(p, "nick")?,
        avatar: text(p, "avatar")?.map(avatar_id),
        mobile: text(p, "mobile")?,
        birthday: text(p, "birthday")?,
        gender,
        province: text(p, "province")?,
        city: text(p, "city")?,
        area: text(p, "area")?,
        introduction: text(p, "introduction")?,
    };
    let position = state
        .services
        .courtesy
        .edit_profile(user, change, &call.rid.metadata(Some(user.to_string())))
        .await?;
    read_your_writes(state, position).await;
    Ok(Answer::new())
}
