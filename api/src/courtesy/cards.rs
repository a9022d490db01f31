//! `qr_query`, `card_create_query`, `card_create`, `card_query`, `card_edit`, `card_delete` and
//! `news_query` (seed 001). Request times (`visible_at`) are Asia/Shanghai local times
//! `YYYY-MM-DD HH:MM:SS` (Unix seconds accepted too); answers carry Unix seconds.

use super::Call;
use super::error::{Answer, CourtesyApiError, object, string};
use super::views::{AccountInfoView, CardInfoView, QrInfoView};
use crate::http::read_your_writes;
use crate::startup::AppState;
use serde_json::{Value, json};
use tessera_application::courtesy::CardDraft;
use tessera_application::courtesy::cards::attachments_of;
use tessera_domain::UserId;
use tessera_domain::courtesy::card::{CardChange, CourtesyCard};

fn to_value(v: impl serde::Serialize) -> Result<Value, CourtesyApiError> {
    serde_json::to_value(v).map_err(|e| CourtesyApiError::Unavailable(e.to_string()))
}

fn time() -> Value {
    json!(super::error::unix_now())
}

/// The signed-in user if the cookie names a live session, else nobody (for reads open to all).
async fn viewer(state: &AppState, call: &Call) -> Result<Option<UserId>, CourtesyApiError> {
    match call.user(state).await {
        Ok(u) => Ok(Some(u)),
        Err(CourtesyApiError::Forbidden) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn account(state: &AppState, id: UserId) -> Result<AccountInfoView, CourtesyApiError> {
    let info = state.services.courtesy.info(id).await?;
    let count = state
        .services
        .courtesy_queries
        .card_count(&id.to_string())
        .await?;
    Ok(AccountInfoView::new(info, count))
}

/// `card_info` of `card` as `viewer` sees it.
async fn card_view(
    state: &AppState,
    card: &CourtesyCard,
    viewer: Option<UserId>,
) -> Result<CardInfoView, CourtesyApiError> {
    let (Some(author), Some(content), Some(created_at)) =
        (card.author(), card.content(), card.created_at())
    else {
        return Err(CourtesyApiError::NotFound);
    };
    let now = state.services.courtesy.current_time();
    let read_by = match card.read() {
        Some((reader, _)) => Some(account(state, reader).await?),
        None => None,
    };
    Ok(CardInfoView {
        token: card.token().unwrap_or_default().to_owned(),
        qr_id: card.qr_id().unwrap_or_default().to_owned(),
        author: account(state, author).await?,
        read_by,
        first_read_at: card.read().map(|(_, at)| at.timestamp()),
        local_template: if card.shows_template_to(viewer, now) {
            content.local_template.clone()
        } else {
            Value::Null
        },
        is_editable: content.is_editable,
        is_public: content.is_public,
        visible_at: content.visible_at.map_or(0, |t| t.timestamp()),
        view_count: card.view_count(),
        edited_count: card.edited_count(),
        stars: 0,
        created_at: created_at.timestamp(),
        modified_at: card.modified_at().unwrap_or(created_at).timestamp(),
    })
}

/// A boolean member: `default` when absent or null, 401 when not a boolean.
fn flag(obj: &Value, name: &str) -> Result<Option<bool>, CourtesyApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(CourtesyApiError::Invalid(name.into())),
    }
}

/// `visible_at`: `Some(None)` (at once) for null, `""` or 0; an Asia/Shanghai local time
/// `YYYY-MM-DD HH:MM:SS` or Unix seconds otherwise; 401 for anything else.
fn visible_at(
    obj: &Value,
) -> Result<Option<Option<chrono::DateTime<chrono::Utc>>>, CourtesyApiError> {
    let bad = || CourtesyApiError::Invalid("visible_at".into());
    match obj.get("visible_at") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(None)),
        Some(Value::String(s)) => tessera_domain::courtesy::parse_local_time(s)
            .map(|t| Some(Some(t)))
            .ok_or_else(bad),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => Ok(Some(None)),
            Some(secs) => chrono::DateTime::from_timestamp(secs, 0)
                .map(|t| Some(Some(t)))
                .ok_or_else(bad),
            None => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

/// `local_template`: a string or a JSON object, kept as sent; 401 otherwise.
fn template(obj: &Value) -> Result<Option<Value>, CourtesyApiError> {
    match obj.get("local_template") {
        None | Some(Value::Null) => Ok(None),
        Some(v @ (Value::String(_) | Value::Object(_))) => Ok(Some(v.clone())),
        Some(_) => Err(CourtesyApiError::Invalid("local_template".into())),
    }
}

/// The `card_info` of `card_create_query` and `card_create`.
fn draft(body: &Value) -> Result<CardDraft, CourtesyApiError> {
    let info = object(body, "card_info")?;
    let token = string(info, "token")?.to_owned();
    let qr_id = string(info, "qr_id")?.to_ascii_lowercase();
    let local_template =
        template(info)?.ok_or_else(|| CourtesyApiError::Missing("local_template".into()))?;
    Ok(CardDraft {
        token,
        qr_id,
        local_template,
        is_editable: flag(info, "is_editable")?.unwrap_or(true),
        is_public: flag(info, "is_public")?.unwrap_or(true),
        visible_at: visible_at(info)?.flatten(),
    })
}

/// `qr_query {qr_id}` → `{qr_info, card_info}` (`card_info` null until a card is bound, and for
/// a banned card); counts a scan. 402/401 `qr_id`, 404 unknown.
pub async fn qr_query(
    state: &AppState,
    call: &Call,
    body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let qr_id = string(body, "qr_id")?.to_ascii_lowercase();
    let who = viewer(state, call).await?;
    let (info, card, position) = state
        .services
        .courtesy
        .scan_qr(&qr_id, &call.rid.metadata(who.map(|u| u.to_string())))
        .await?;
    read_your_writes(state, position).await;
    let card_info = match card.filter(|c| !c.is_banned()) {
        Some(c) => to_value(card_view(state, &c, who).await?)?,
        None => Value::Null,
    };
    let mut answer = Answer::new();
    answer.insert("qr_info".into(), to_value(QrInfoView::new(&info))?);
    answer.insert("card_info".into(), card_info);
    Ok(answer)
}

/// `card_create_query {card_info}` → `{token, time}` when `card_create` would succeed; changes
/// nothing. 403, 401/402 (`card_info`, `token`, `qr_id`, `local_template`, `is_editable`,
/// `is_public`, `visible_at`, `attachments_hashes`), 404 unknown QR code, 405 `token`, 424.
pub async fn create_query(
    state: &AppState,
    call: &Call,
    body: &Value,
) -> Result<Answer, CourtesyApiError> {
    call.user(state).await?;
    let d = draft(body)?;
    attachments_of(&d.local_template).map_err(|f| CourtesyApiError::Invalid(f.field))?;
    state.services.courtesy.check_card(&d).await?;
    let mut answer = Answer::new();
    answer.insert("token".into(), json!(d.token));
    answer.insert("time".into(), time());
    Ok(answer)
}

/// `card_create {card_info}` → `{card_info, time}`; the codes of `card_create_query`.
pub async fn create(
    state: &AppState,
    call: &Call,
    body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let user = call.user(state).await?;
    let d = draft(body)?;
    let (card, position) = state
        .services
        .courtesy
        .create_card(user, d, &call.rid.metadata(Some(user.to_string())))
        .await?;
    read_your_writes(state, position).await;
    let mut answer = Answer::new();
    answer.insert(
        "card_info".into(),
        to_value(card_view(state, &card, Some(user)).await?)?,
    );
    answer.insert("time".into(), time());
    Ok(answer)
}

/// `card_query {token}` → `{card_info}`; counts a view (signed in or not). 402/401 `token`, 404,
/// 426.
pub async fn query(
    state: &AppState,
    call: &Call,
    body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let token = string(body, "token")?;
    let who = viewer(state, call).await?;
    let (card, position) = state
        .services
        .courtesy
        .view_card(who, token, &call.rid.metadata(who.map(|u| u.to_string())))
        .await?;
    read_your_writes(state, position).await;
    let mut answer = Answer::new();
    answer.insert(
        "card_info".into(),
        to_value(card_view(state, &card, who).await?)?,
    );
    Ok(answer)
}

/// `card_edit {token, card_info}` → `{card_info}`: each given field of `card_info` changes. 403,
/// 402/401 (`token`, `card_info` and its fields), 404, 425, 426.
pub async fn edit(state: &AppState, call: &Call, body: &Value) -> Result<Answer, CourtesyApiError> {
    let user = call.user(state).await?;
    let token = string(body, "token")?;
    let info = object(body, "card_info")?;
    let local_template = match template(info)? {
        Some(t) => {
            let hashes = attachments_of(&t).map_err(|f| CourtesyApiError::Invalid(f.field))?;
            Some((t, hashes))
        }
        None => None,
    };
    let change = CardChange {
        local_template,
        is_editable: flag(info, "is_editable")?,
        is_public: flag(info, "is_public")?,
        visible_at: visible_at(info)?,
    };
    let (card, position) = state
        .services
        .courtesy
        .edit_card(
            user,
            token,
            change,
            &call.rid.metadata(Some(user.to_string())),
        )
        .await?;
    read_your_writes(state, position).await;
    let mut answer = Answer::new();
    answer.insert(
        "card_info".into(),
        to_value(card_view(state, &card, Some(user)).await?)?,
    );
    Ok(answer)
}

/// `card_delete {token}` → `{token, time}`: bans the card. 403, 402/401 `token`, 404, 425, 426.
pub async fn delete(
    state: &AppState,
    call: &Call,
    body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let user = call.user(state).await?;
    let token = string(body, "token")?;
    let position = state
        .services
        .courtesy
        .ban_card(user, token, &call.rid.metadata(Some(user.to_string())))
        .await?;
    read_your_writes(state, position).await;
    let mut answer = Answer::new();
    answer.insert("token".into(), json!(token));
    answer.insert("time".into(), time());
    Ok(answer)
}

/// `news_query {s_date}` → `{news: [...], time}` (empty list for a day without news). 402/401
/// `s_date` (`YYYY-MM-DD`).
pub async fn news(
    state: &AppState,
    _call: &Call,
    body: &Value,
) -> Result<Answer, CourtesyApiError> {
    let date = chrono::NaiveDate::parse_from_str(string(body, "s_date")?, "%Y-%m-%d")
        .map_err(|_| CourtesyApiError::Invalid("s_date".into()))?;
    let items = state.services.courtesy.news_of(date).await?;
    let media = |m: &Option<tessera_domain::courtesy::news::NewsMedia>| {
        m.as_ref().map(|m| super::views::NewsMediaView {
            sha256: m.sha256.clone(),
            rid: m.rid.clone(),
        })
    };
    let news: Vec<super::views::NewsView> = items
        .iter()
        .map(|i| super::views::NewsView {
            style: super::views::NewsStyleView {
                style_id: i.style_id,
                style_name: i.style_name.clone(),
            },
            string: i.text.clone(),
            image: media(&i.image),
            video: media(&i.video),
            audio: media(&i.audio),
            date: i.date.format("%Y-%m-%d").to_string(),
            url: i.url.clone(),
            r#type: i.kind,
        })
        .collect();
    let mut answer = Answer::new();
    answer.insert("news".into(), to_value(news)?);
    answer.insert("time".into(), time());
    Ok(answer)
}
