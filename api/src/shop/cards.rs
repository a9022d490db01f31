//! Seed 002 "会员卡 API": membership cards (`/api/membership/cards[/:id]`) and member transactions
//! (`/api/membership/transactions`). Admins issue, change, close cards and record transactions;
//! reads are for any signed-in user — admins see every open card, a user only their own (another
//! user's card is a 404). Amounts are strings with two decimals (`"50.00"`), instants ISO 8601
//! UTC with milliseconds. docs/shop.md ("Membership cards") says what the seed left open.

use super::error::{ErrorBody, ShopApiError, ShopCaller, ShopJson, not_found, require_admin};
use super::openapi::{Forbidden, ServiceUnavailable, Unauthorized, tags};
use super::views::{millis_text, path_id, price, text, whole};
use crate::http::{RequestId, accepted, idempotent, read_after_write, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tessera_application::shop::{CardChange, CardTransaction, Missing, ShopError};
use tessera_domain::UserId;
use tessera_domain::shop::card::TransactionKind;
use tessera_projections::shop::{CardRow, TransactionRow};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(idempotent::<ShopApiError>(routes!(list_cards, create_card)))
        .routes(routes!(card, update_card, delete_card))
        .routes(idempotent::<ShopApiError>(routes!(
            list_transactions,
            create_transaction
        )))
}

/// Fen as the seed writes amounts: a string with two decimals (`5000` → `"50.00"`).
pub fn amount_text(fen: i64) -> String {
    Decimal::new(fen, 2).to_string()
}

/// A membership card as `POST` and `PUT` answer it (seed 002 "创建会员卡", "更新会员卡信息").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardView {
    /// Its integer id.
    pub card_id: i64,
    /// The holder's `user_id`.
    pub user_id: i64,
    /// 16 digits, the last a Luhn check digit.
    #[schema(example = "8860000000000010")]
    pub card_number: String,
    /// Balance in yuan, a string with two decimals.
    #[schema(example = "100.00")]
    pub balance: String,
    /// 1 active, 0 frozen.
    pub status: i32,
    /// Issued (`2023-09-15T08:00:00.000Z`).
    pub created_at: String,
    /// Last change: transaction, freeze or unfreeze.
    pub updated_at: String,
}

/// The holder embedded in card reads.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardUser {
    /// The holder's `user_id`.
    pub user_id: i64,
    /// Nickname, or null.
    pub nickname: Option<String>,
    /// Email, or null.
    pub email: Option<String>,
    /// Contact phone, or null.
    pub phone: Option<String>,
}

/// A membership card as the reads answer it (seed 002 "获取所有会员卡", "获取单个会员卡"): the
/// card with its holder (`user` null once the holder was deleted).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardDetailView {
    /// Its integer id.
    pub card_id: i64,
    /// The holder's `user_id`.
    pub user_id: i64,
    /// 16 digits, the last a Luhn check digit.
    pub card_number: String,
    /// Balance in yuan, a string with two decimals.
    pub balance: String,
    /// 1 active, 0 frozen.
    pub status: i32,
    /// Issued.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// The holder.
    pub user: Option<CardUser>,
}

impl From<&CardRow> for CardView {
    fn from(r: &CardRow) -> Self {
        CardView {
            card_id: r.card_id,
            user_id: r.user_id,
            card_number: r.card_number.clone(),
            balance: amount_text(r.balance_fen),
            status: r.status,
            created_at: millis_text(&r.created_at),
            updated_at: millis_text(&r.updated_at),
        }
    }
}

impl From<CardRow> for CardDetailView {
    fn from(r: CardRow) -> Self {
        let card = CardView::from(&r);
        CardDetailView {
            card_id: card.card_id,
            user_id: card.user_id,
            card_number: card.card_number,
            balance: card.balance,
            status: card.status,
            created_at: card.created_at,
            updated_at: card.updated_at,
            user: r.holder_live.then_some(CardUser {
                user_id: r.user_id,
                nickname: r.nickname,
                email: r.email,
                phone: r.phone,
            }),
        }
    }
}

/// A member transaction (seed 002 "创建会员交易记录").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionView {
    /// Its integer id.
    pub transaction_id: i64,
    /// The card.
    pub card_id: i64,
    /// 1 top-up, 2 spend, 3 refund, 4 adjustment up, 5 adjustment down.
    #[serde(rename = "type")]
    pub kind: i32,
    /// Yuan, a string with two decimals, always positive (the direction is `type`'s).
    #[schema(example = "50.00")]
    pub amount: String,
    /// The balance after it.
    #[schema(example = "150.00")]
    pub balance_after: String,
    /// What it was for, or null.
    pub description: Option<String>,
    /// The order it paid or refunded, or null.
    pub order_id: Option<String>,
    /// Recorded.
    pub created_at: String,
    /// Same as `created_at`: a transaction never changes.
    pub updated_at: String,
}

impl From<TransactionRow> for TransactionView {
    fn from(r: TransactionRow) -> Self {
        let at = millis_text(&r.created_at);
        TransactionView {
            transaction_id: r.transaction_id,
            card_id: r.card_id,
            kind: r.type_code,
            amount: amount_text(r.amount_fen),
            balance_after: amount_text(r.balance_after_fen),
            description: r.description,
            order_id: r.order_id,
            created_at: at.clone(),
            updated_at: at,
        }
    }
}

/// The id of what was created, when it is committed but not readable yet (202).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedId {
    /// The new `card_id` or `transaction_id`.
    pub id: u64,
}

/// The caller's shop `user_id`, or `None` when they never signed in to the shop.
async fn own_user_id(state: &AppState, c: &ShopCaller) -> Result<Option<i64>, ShopApiError> {
    Ok(state
        .services
        .shop_queries
        .user_by_account(&c.user_id.to_string())
        .await?
        .map(|u| u.user_id))
}

/// Whose cards the caller may read: `None` all (admin), `Some(id)` only those of `id`.
async fn scope(state: &AppState, c: &ShopCaller) -> Result<Option<i64>, ShopApiError> {
    if c.is_admin() {
        return Ok(None);
    }
    // Someone who never signed in to the shop holds no card: -1 matches none.
    Ok(Some(own_user_id(state, c).await?.unwrap_or(-1)))
}

fn body_id(body: &Map<String, Value>, field: &str) -> Result<u64, ShopApiError> {
    whole(body, field, i64::MAX as u64)?
        .flatten()
        .filter(|n| *n > 0)
        .ok_or_else(|| ShopApiError::field(field, "应为正整数"))
}

async fn answer<R, V, E, F>(
    state: &AppState,
    position: Option<u64>,
    read: F,
    status: StatusCode,
    id: u64,
    location: &str,
) -> Response
where
    V: From<R> + Serialize,
    E: std::fmt::Display,
    F: std::future::Future<Output = Result<Option<R>, E>>,
{
    match read_after_write(state, position, read).await {
        Some(row) => (status, Json(V::from(row))).into_response(),
        None => accepted(Json(CreatedId { id }).into_response(), location),
    }
}

/// A card row answered in the `POST`/`PUT` shape.
struct Plain(CardView);

impl From<CardRow> for Plain {
    fn from(r: CardRow) -> Self {
        Plain(CardView::from(&r))
    }
}

impl Serialize for Plain {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

// --------------------------------------------------------------------------------------- cards

/// The request body of `POST /api/membership/cards`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CardBody {
    /// The shop user who gets the card (must hold no open card).
    user_id: u64,
}

/// Issue a card to a user (admins only): balance `"0.00"`, status 1.
#[utoipa::path(
    post,
    path = "/api/membership/cards",
    operation_id = "createMembershipCard",
    tag = tags::CARDS,
    summary = "Issue a membership card (admin)",
    security(("bearerAuth" = [])),
    request_body = CardBody,
    responses(
        (status = 201, description = "The new card", body = CardView),
        (status = 202, description = "Committed, not readable yet: read it at `Location`", body = CreatedId),
        (status = 400, description = "`user_id` missing, not a shop user, or already holding an open card", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn create_card(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    ShopJson(body): ShopJson,
) -> Result<Response, ShopApiError> {
    require_admin(&c)?;
    let user_id = body_id(&body, "user_id")?;
    let user = state
        .services
        .shop_queries
        .user(user_id as i64)
        .await?
        .ok_or_else(|| ShopApiError::field("user_id", format!("用户 {user_id} 不存在")))?;
    let account: UserId = user
        .account_id
        .parse()
        .map_err(|_| ShopApiError::Unavailable(format!("bad account id {}", user.account_id)))?;
    let (id, position) = state
        .services
        .shop
        .issue_card(
            c.user_id,
            user_id,
            account,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    let cards = state.services.shop_queries.cards();
    let read = cards.card(id as i64);
    Ok(answer::<_, Plain, _, _>(
        &state,
        position,
        read,
        StatusCode::CREATED,
        id,
        &format!("/api/membership/cards/{id}"),
    )
    .await)
}

/// Open cards with their holder: every one for admins, the caller's own for users.
#[utoipa::path(
    get,
    path = "/api/membership/cards",
    operation_id = "listMembershipCards",
    tag = tags::CARDS,
    summary = "Membership cards (admin: all; user: own)",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Open cards by `card_id`", body = Vec<CardDetailView>),
        (status = 401, response = Unauthorized),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list_cards(
    State(state): State<AppState>,
    c: ShopCaller,
) -> Result<Json<Vec<CardDetailView>>, ShopApiError> {
    let holder = scope(&state, &c).await?;
    let rows = state.services.shop_queries.cards().cards(holder).await?;
    Ok(Json(rows.into_iter().map(CardDetailView::from).collect()))
}

async fn visible_card(
    state: &AppState,
    c: &ShopCaller,
    raw: &str,
) -> Result<CardRow, ShopApiError> {
    let id = path_id(raw, Missing::Card)?;
    let holder = scope(state, c).await?;
    state
        .services
        .shop_queries
        .cards()
        .card(id as i64)
        .await?
        .filter(|row| holder.is_none_or(|h| h == row.user_id))
        .ok_or_else(|| not_found(Missing::Card))
}

/// One open card with its holder; a user's own only (another user's card is a 404).
#[utoipa::path(
    get,
    path = "/api/membership/cards/{id}",
    operation_id = "getMembershipCard",
    tag = tags::CARDS,
    summary = "One membership card (admin: any; user: own)",
    security(("bearerAuth" = [])),
    params(("id" = u64, Path, description = "`card_id`")),
    responses(
        (status = 200, description = "The card", body = CardDetailView),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such open card, or another user's", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn card(
    State(state): State<AppState>,
    c: ShopCaller,
    Path(id): Path<String>,
) -> Result<Json<CardDetailView>, ShopApiError> {
    Ok(Json(visible_card(&state, &c, &id).await?.into()))
}

/// The request body of `PUT /api/membership/cards/:id`; every field optional.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CardUpdateBody {
    /// The balance wanted, yuan with two decimals (`"200.00"` or `200`): recorded as an adjustment
    /// transaction of the difference (type 4 up, 5 down), never overwritten.
    balance: Option<String>,
    /// 0 freezes, 1 unfreezes.
    status: Option<u8>,
    /// Why the balance changes (recorded as the adjustment's `description`; default
    /// `管理员修改余额`). A Tessera addition.
    reason: Option<String>,
}

/// Change a card (admins only): `balance` as an adjustment of the difference, `status` 0/1.
#[utoipa::path(
    put,
    path = "/api/membership/cards/{id}",
    operation_id = "updateMembershipCard",
    tag = tags::CARDS,
    summary = "Change a membership card (admin)",
    security(("bearerAuth" = [])),
    params(("id" = u64, Path, description = "`card_id`")),
    request_body = CardUpdateBody,
    responses(
        (status = 200, description = "The card after the change", body = CardView),
        (status = 400, description = "`balance`, `status` or `reason` invalid", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such open card", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn update_card(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    Path(id): Path<String>,
    ShopJson(body): ShopJson,
) -> Result<Response, ShopApiError> {
    require_admin(&c)?;
    let id = path_id(&id, Missing::Card)?;
    let balance = match body.get("balance") {
        None => None,
        Some(Value::Null) => return Err(ShopApiError::field("balance", "不能为 null")),
        Some(v) => Some(price("balance", v)?),
    };
    let status = match whole(&body, "status", 1)? {
        None => None,
        Some(None) => return Err(ShopApiError::field("status", "应为 0 或 1")),
        Some(Some(n)) => Some(n as u8),
    };
    let change = CardChange {
        balance,
        reason: text(&body, "reason", true)?.flatten(),
        status,
    };
    let position = state
        .services
        .shop
        .update_card(
            c.user_id,
            id,
            change,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    let cards = state.services.shop_queries.cards();
    let read = cards.card(id as i64);
    Ok(answer::<_, Plain, _, _>(
        &state,
        position,
        read,
        StatusCode::OK,
        id,
        &format!("/api/membership/cards/{id}"),
    )
    .await)
}

/// Close a card (admins only): 204; only with a balance of 0.00.
#[utoipa::path(
    delete,
    path = "/api/membership/cards/{id}",
    operation_id = "deleteMembershipCard",
    tag = tags::CARDS,
    summary = "Close a membership card (admin)",
    security(("bearerAuth" = [])),
    params(("id" = u64, Path, description = "`card_id`")),
    responses(
        (status = 204, description = "Closed: gone from the routes, history kept; the user may get a new card"),
        (status = 400, description = "`balance`: the card still holds money (set it to 0.00 first)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such open card", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn delete_card(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ShopApiError> {
    require_admin(&c)?;
    let id = path_id(&id, Missing::Card)?;
    let position = state
        .services
        .shop
        .close_card(c.user_id, id, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    Ok(StatusCode::NO_CONTENT)
}

// -------------------------------------------------------------------------------- transactions

/// The request body of `POST /api/membership/transactions`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct TransactionBody {
    /// An open card.
    card_id: u64,
    /// 1 top-up, 2 spend, 3 refund, 4 adjustment up, 5 adjustment down.
    r#type: u8,
    /// Yuan, more than 0, at most two decimals (`"50.00"` or `50`).
    amount: String,
    /// What it is for (at most 200 characters; required for 4 and 5).
    description: Option<String>,
}

/// Record a member transaction (admins only); answers it with `balance_after`.
#[utoipa::path(
    post,
    path = "/api/membership/transactions",
    operation_id = "createMemberTransaction",
    tag = tags::CARDS,
    summary = "Record a member transaction (admin)",
    security(("bearerAuth" = [])),
    request_body = TransactionBody,
    responses(
        (status = 201, description = "The transaction", body = TransactionView),
        (status = 202, description = "Committed, not readable yet", body = CreatedId),
        (status = 400, description = "A field is invalid; `card_id` not an open card or frozen (top-up, spend); `amount` more than the balance", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn create_transaction(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    ShopJson(body): ShopJson,
) -> Result<Response, ShopApiError> {
    require_admin(&c)?;
    let card_id = body_id(&body, "card_id")?;
    let kind = whole(&body, "type", 5)?
        .flatten()
        .and_then(TransactionKind::from_code)
        .ok_or_else(|| {
            ShopApiError::field(
                "type",
                "应为 1（充值）、2（消费）、3（退款）、4（调增）或 5（调减）",
            )
        })?;
    let amount = match body.get("amount") {
        None | Some(Value::Null) => return Err(ShopApiError::field("amount", "不能为空")),
        Some(v) => price("amount", v)?,
    };
    let t = CardTransaction {
        card_id,
        kind,
        amount,
        description: text(&body, "description", true)?.flatten(),
    };
    let (id, position) = state
        .services
        .shop
        .record_card_transaction(c.user_id, t, &rid.metadata(Some(c.user_id.to_string())))
        .await
        .map_err(|e| match e {
            ShopError::NotFound(Missing::Card) => {
                ShopApiError::field("card_id", format!("会员卡 {card_id} 不存在"))
            }
            other => other.into(),
        })?;
    let cards = state.services.shop_queries.cards();
    let read = cards.transaction(id as i64);
    Ok(answer::<_, TransactionView, _, _>(
        &state,
        position,
        read,
        StatusCode::CREATED,
        id,
        &format!("/api/membership/transactions?card_id={card_id}"),
    )
    .await)
}

/// Filters of `GET /api/membership/transactions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransactionFilter {
    /// Only this card's transactions.
    pub card_id: Option<String>,
}

/// Member transactions of open cards, by `transaction_id`: every one for admins, those of the
/// caller's own cards for users; `?card_id=` narrows to one card. A Tessera addition: the seed
/// documents no listing.
#[utoipa::path(
    get,
    path = "/api/membership/transactions",
    operation_id = "listMemberTransactions",
    tag = tags::CARDS,
    summary = "Member transactions (admin: all; user: own cards)",
    security(("bearerAuth" = [])),
    params(TransactionFilter),
    responses(
        (status = 200, description = "Transactions by `transaction_id`", body = Vec<TransactionView>),
        (status = 400, description = "`card_id` is not a positive integer", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list_transactions(
    State(state): State<AppState>,
    c: ShopCaller,
    Query(filter): Query<TransactionFilter>,
) -> Result<Json<Vec<TransactionView>>, ShopApiError> {
    let card = match filter.card_id {
        None => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ShopApiError::field("card_id", "应为正整数"))?,
        ),
    };
    let holder = scope(&state, &c).await?;
    let rows = state
        .services
        .shop_queries
        .cards()
        .transactions(card, holder)
        .await?;
    Ok(Json(rows.into_iter().map(TransactionView::from).collect()))
}
