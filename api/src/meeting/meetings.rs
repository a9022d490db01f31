//! Seed 000 §4 and §6: `GET /meetings`, `GET /meetings/:id`, `GET /payment_methods`, and the
//! organizer's writes the document leaves out, in the same style: `POST /meetings`,
//! `PATCH /meetings/:id` (`status`: `onSale` | `closed`), `POST /meetings/:id/ticket_grades`,
//! `PATCH /meetings/:id/ticket_grades/:gradeId` (organizer of the meeting, or admin).

use super::error::{MtCaller, MtError, MtJson};
use super::openapi::{InternalError, ServiceUnavailable, Unauthorized, tags};
use super::views::{ErrorBody, MeetingStatus, MeetingView, PaymentMethodView, yuan_input_schema};
use crate::http::RequestId;
use crate::http::{accepted, idempotent, params, read_after_write};
use crate::startup::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;
use tessera_application::meeting::{GradeInput, MeetingChange, MeetingInput};
use tessera_domain::identity::Role;
use tessera_domain::meeting::{MeetingId, TicketGradeId};
use tessera_domain::shared::{Currency, Money, MoneyError};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Longest title, in characters.
const MAX_TITLE: usize = 200;
/// Longest description or location, in characters.
const MAX_TEXT: usize = 5_000;
/// Most grades one meeting is created with.
const MAX_GRADES: usize = 50;
/// Largest stock of one grade.
const MAX_STOCK: u64 = 1_000_000;
/// Largest price, in yuan.
const MAX_PRICE_YUAN: i64 = 1_000_000;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(idempotent::<MtError>(routes!(list, create)))
        .routes(routes!(detail, set_status))
        .routes(idempotent::<MtError>(routes!(add_grade)))
        .routes(routes!(change_grade))
        .routes(routes!(payment_methods))
}

/// Parse a UUID path segment; 404 for anything else (an id that cannot exist).
pub fn path_id(what: &str, raw: &str) -> Result<Uuid, MtError> {
    Uuid::try_parse(raw).map_err(|_| MtError::NotFound(format!("{what} {raw} not found")))
}

/// A price in yuan as CNY money: a JSON number (seed 000 shows prices as numbers; a string such
/// as `"99.5"` is refused, however numeric), at most 2 decimals, 0 ≤ price ≤ 1,000,000; a 400
/// naming `field` otherwise. The number is read from its shortest decimal text, so `0.1` is
/// exactly 0.10 yuan and `0.30000000000000004` has too many decimals.
pub fn yuan(field: &str, v: &Value) -> Result<Money, MtError> {
    let Value::Number(n) = v else {
        return Err(MtError::field(field, "应为数字（元），不能是字符串"));
    };
    let text = n.to_string();
    let d = Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| MtError::field(field, "价格应在 0 到 1000000 元之间"))?;
    if d.is_sign_negative() || d > Decimal::from(MAX_PRICE_YUAN) {
        return Err(MtError::field(field, "价格应在 0 到 1000000 元之间"));
    }
    Money::new(d, Currency::CNY).map_err(|e| match e {
        MoneyError::Scale { .. } => MtError::field(field, "价格最多两位小数"),
        _ => MtError::field(field, "价格无效"),
    })
}

fn text(field: &str, v: Option<&str>, max: usize, required: bool) -> Result<String, MtError> {
    let s = v.map(str::trim).unwrap_or_default();
    if required && s.is_empty() {
        return Err(MtError::field(field, "不能为空"));
    }
    if s.chars().count() > max {
        return Err(MtError::field(field, format!("不能超过{max}个字符")));
    }
    Ok(s.to_owned())
}

fn stock(field: &str, v: u64) -> Result<u32, MtError> {
    if v > MAX_STOCK {
        return Err(MtError::field(field, format!("库存不能超过{MAX_STOCK}")));
    }
    u32::try_from(v).map_err(|_| MtError::field(field, "库存无效"))
}

fn require_organizer(c: &MtCaller) -> Result<(), MtError> {
    if c.has(Role::Organizer) {
        Ok(())
    } else {
        Err(MtError::Forbidden("需要组织者（organizer）权限".into()))
    }
}

async fn meeting_response(
    state: &AppState,
    id: Uuid,
    position: Option<u64>,
    status: StatusCode,
) -> Result<Response, MtError> {
    let read = state.services.meeting_queries.meeting(id);
    let row = if position.is_some() {
        match read_after_write(state, position, read).await {
            Some(row) => row,
            // Committed, not readable yet: 202 and where to read it (decisions/0011), never an
            // error.
            None => {
                return Ok(accepted(
                    Json(super::orders::Accepted { id }).into_response(),
                    &format!("/meetings/{id}"),
                ));
            }
        }
    } else {
        read.await?
            .ok_or_else(|| MtError::NotFound(format!("meeting {id} not found")))?
    };
    Ok((status, Json(MeetingView::from_row(row)?)).into_response())
}

/// §4.1: `[meeting]`, latest start first; query `status` (`draft`|`onSale`|`closed`), `page`
/// (from 1), `pageSize` (1–100, default 20). A bad number is a 400 naming it.
///
/// 200 when the page holds every meeting that matches; otherwise 206 Partial Content (seed 000
/// lists it) with `Content-Range: meetings {first}-{last}/{total}` (0-based, inclusive, counted in
/// meetings over the whole filtered list), or `meetings */{total}` for a page past the end (an
/// empty array).
#[utoipa::path(
    get,
    path = "/meetings",
    operation_id = "listMeetings",
    tag = tags::MEETINGS,
    summary = "Meetings, latest start first",
    params(
        ("status" = Option<MeetingStatus>, Query, description = "Only meetings with this sales status"),
        ("page" = Option<u32>, Query, description = "Page number, from 1 (default 1)", minimum = 1, maximum = 1000000),
        ("pageSize" = Option<u32>, Query, description = "Meetings per page, 1–100 (default 20)", minimum = 1, maximum = 100),
    ),
    responses(
        (status = 200, description = "Every meeting that matches, with their ticket grades", body = Vec<MeetingView>),
        (status = 206, description = "One page of a longer list; `Content-Range` says which", body = Vec<MeetingView>,
            headers(("Content-Range" = String, description = "`meetings {first}-{last}/{total}` (0-based, inclusive, in meetings), or `meetings */{total}` past the end"))),
        (status = 400, description = "'Validation Error' naming the bad query parameter", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, MtError> {
    let page = params::number(&q, "page", 1, 1, 1_000_000)?;
    let size = params::number(&q, "pageSize", 20, 1, 100)?;
    let status = q.get("status").map(String::as_str);
    if let Some(s) = status
        && !["draft", "onSale", "closed"].contains(&s)
    {
        return Err(MtError::field("status", "应为 draft、onSale 或 closed"));
    }
    let queries = &state.services.meeting_queries;
    let rows = queries.meetings(status, page, size).await?;
    let total = queries.meeting_count(status).await?;
    let items = rows
        .into_iter()
        .map(MeetingView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let first = u64::from(page - 1) * u64::from(size);
    let shown = items.len() as u64;
    // The count and the page are two reads of a moving table: never announce fewer than shown.
    let total = if shown > 0 {
        total.max(first + shown)
    } else {
        total
    };
    if first == 0 && shown == total {
        return Ok(Json(items).into_response());
    }
    let range = if shown == 0 {
        format!("meetings */{total}")
    } else {
        format!("meetings {first}-{}/{total}", first + shown - 1)
    };
    Ok((
        StatusCode::PARTIAL_CONTENT,
        [(header::CONTENT_RANGE, range)],
        Json(items),
    )
        .into_response())
}

/// §4: 200 `{...meeting, ticketGrades}` with each grade's remaining stock; 404.
#[utoipa::path(
    get,
    path = "/meetings/{id}",
    operation_id = "getMeeting",
    tag = tags::MEETINGS,
    summary = "A meeting with its ticket grades",
    params(("id" = Uuid, Path, description = "The meeting")),
    responses(
        (status = 200, description = "The meeting, each grade with its remaining stock", body = MeetingView),
        (status = 404, description = "'Not Found': no such meeting", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, MtError> {
    let id = path_id("meeting", &id)?;
    meeting_response(&state, id, None, StatusCode::OK).await
}

/// A ticket grade to add (`{name, price, stock}`, all required) or the changes to one (any of
/// them).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = TicketGradeRequest)]
struct GradeBody {
    /// Name, 1–100 characters.
    #[schema(example = "普通票")]
    name: Option<String>,
    /// Price of one ticket in yuan.
    #[schema(schema_with = yuan_input_schema)]
    price: Option<Value>,
    /// Total tickets, at most 1,000,000; a change may not go below what is held and sold.
    #[schema(maximum = 1000000)]
    stock: Option<u64>,
}

/// `POST /meetings`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = MeetingRequest)]
struct MeetingBody {
    /// Title, 1–200 characters.
    title: Option<String>,
    /// Description, at most 5,000 characters.
    description: Option<String>,
    /// Where it takes place, at most 5,000 characters.
    location: Option<String>,
    /// Start, RFC 3339 with an offset.
    start_time: DateTime<Utc>,
    /// End, RFC 3339 with an offset; after the start.
    end_time: DateTime<Utc>,
    /// Ticket grades, at most 50.
    #[serde(default)]
    ticket_grades: Vec<GradeBody>,
    /// `draft` (default) or `onSale`.
    #[schema(example = "onSale")]
    status: Option<String>,
}

fn new_grade(prefix: &str, g: &GradeBody) -> Result<GradeInput, MtError> {
    let name = text(&format!("{prefix}name"), g.name.as_deref(), 100, true)?;
    let price = g
        .price
        .as_ref()
        .ok_or_else(|| MtError::field(format!("{prefix}price"), "不能为空"))?;
    let price = yuan(&format!("{prefix}price"), price)?;
    let stock = stock(
        &format!("{prefix}stock"),
        g.stock
            .ok_or_else(|| MtError::field(format!("{prefix}stock"), "不能为空"))?,
    )?;
    Ok(GradeInput { name, price, stock })
}

/// Create a meeting (organizer or admin): body `{title, description?, location?, startTime,
/// endTime (RFC 3339 with offset), ticketGrades: [{name, price (yuan), stock}], status?: 'draft' |
/// 'onSale'}` → 201 meeting.
#[utoipa::path(
    post,
    path = "/meetings",
    operation_id = "createMeeting",
    tag = tags::MEETINGS,
    summary = "Create a meeting (organizers and admins; Tessera's addition)",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    request_body = MeetingBody,
    responses(
        (status = 201, description = "The new meeting", body = MeetingView),
        (status = 202, description = "Committed, but not readable yet: read it at `Location` shortly; never repeat the POST (docs/decisions/0011-answer-after-write.md)", body = super::orders::Accepted, headers(("Location" = String, description = "Where the result will be readable"), ("Retry-After" = u32, description = "Seconds to wait: 1"))),
        (status = 400, description = "'Validation Error' naming the field (`ticketGrades[0].price`, `endTime`, …)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "'Forbidden': the caller is not an organizer", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn create(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    MtJson(body, raw): MtJson<MeetingBody>,
) -> Result<Response, MtError> {
    require_organizer(&c)?;
    let built = (|| -> Result<MeetingInput, MtError> {
        let title = text("title", body.title.as_deref(), MAX_TITLE, true)?;
        let description = text("description", body.description.as_deref(), MAX_TEXT, false)?;
        let location = text("location", body.location.as_deref(), MAX_TEXT, false)?;
        if body.ticket_grades.len() > MAX_GRADES {
            return Err(MtError::field(
                "ticketGrades",
                format!("最多{MAX_GRADES}个票种"),
            ));
        }
        let grades = body
            .ticket_grades
            .iter()
            .enumerate()
            .map(|(i, g)| new_grade(&format!("ticketGrades[{i}]."), g))
            .collect::<Result<Vec<_>, _>>()?;
        let open_sales = match body.status.as_deref() {
            None | Some("draft") => false,
            Some("onSale") => true,
            Some(_) => return Err(MtError::field("status", "应为 draft 或 onSale")),
        };
        Ok(MeetingInput {
            title,
            description,
            location,
            start_time: body.start_time,
            end_time: body.end_time,
            grades,
            open_sales,
        })
    })()
    .map_err(|e| e.with_payload(&raw))?;
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let (id, pos) = state
        .services
        .meetings
        .create_meeting(c.user_id, built, &meta)
        .await
        .map_err(|e| MtError::from(e).with_payload(&raw))?;
    meeting_response(&state, id.as_uuid(), pos, StatusCode::CREATED).await
}

/// `PATCH /meetings/:id`: `{status}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MeetingStatusRequest)]
struct StatusBody {
    /// `onSale` to open sales, `closed` to close them.
    #[schema(example = "closed")]
    status: String,
}

/// Open or close sales: `{status: 'onSale' | 'closed'}` → 200 meeting; 403 for anyone but the
/// organizer or an admin.
#[utoipa::path(
    patch,
    path = "/meetings/{id}",
    operation_id = "setMeetingStatus",
    tag = tags::MEETINGS,
    summary = "Open or close sales (its organizer or an admin; Tessera's addition)",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    params(("id" = Uuid, Path, description = "The meeting")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "The meeting", body = MeetingView),
        (status = 400, description = "'Validation Error' naming `status`", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "'Forbidden': neither the meeting's organizer nor an admin", body = ErrorBody),
        (status = 404, description = "'Not Found': no such meeting", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn set_status(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    Path(id): Path<String>,
    MtJson(body, raw): MtJson<StatusBody>,
) -> Result<Response, MtError> {
    let id = path_id("meeting", &id)?;
    let change = match body.status.as_str() {
        "onSale" => MeetingChange::OpenSales,
        "closed" => MeetingChange::CloseSales,
        _ => return Err(MtError::field("status", "应为 onSale 或 closed").with_payload(&raw)),
    };
    manage(&state, &rid, &c, id, change).await
}

async fn manage(
    state: &AppState,
    rid: &RequestId,
    c: &MtCaller,
    id: Uuid,
    change: MeetingChange,
) -> Result<Response, MtError> {
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let (_, pos) = state
        .services
        .meetings
        .manage(c.user_id, &c.roles, MeetingId::from_uuid(id), change, &meta)
        .await?;
    meeting_response(state, id, pos, StatusCode::OK).await
}

/// Add a grade `{name, price, stock}` → 201 meeting.
#[utoipa::path(
    post,
    path = "/meetings/{id}/ticket_grades",
    operation_id = "addTicketGrade",
    tag = tags::MEETINGS,
    summary = "Add a ticket grade (its organizer or an admin; Tessera's addition)",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    params(("id" = Uuid, Path, description = "The meeting")),
    request_body = GradeBody,
    responses(
        (status = 201, description = "The meeting with the new grade last", body = MeetingView),
        (status = 202, description = "Committed, but not readable yet: read it at `Location` shortly; never repeat the POST (docs/decisions/0011-answer-after-write.md)", body = super::orders::Accepted, headers(("Location" = String, description = "Where the result will be readable"), ("Retry-After" = u32, description = "Seconds to wait: 1"))),
        (status = 400, description = "'Validation Error' naming `name`, `price` or `stock`", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "'Forbidden': neither the meeting's organizer nor an admin", body = ErrorBody),
        (status = 404, description = "'Not Found': no such meeting", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn add_grade(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    Path(id): Path<String>,
    MtJson(body, raw): MtJson<GradeBody>,
) -> Result<Response, MtError> {
    let id = path_id("meeting", &id)?;
    let grade = new_grade("", &body).map_err(|e| e.with_payload(&raw))?;
    let response = manage(&state, &rid, &c, id, MeetingChange::AddGrade(grade)).await?;
    let (mut parts, body) = response.into_parts();
    parts.status = StatusCode::CREATED;
    Ok(Response::from_parts(parts, body))
}

/// Change a grade `{name?, price?, stock?}` → 200 meeting; stock below what is held and sold is a
/// 400 naming `stock`.
#[utoipa::path(
    patch,
    path = "/meetings/{id}/ticket_grades/{gradeId}",
    operation_id = "changeTicketGrade",
    tag = tags::MEETINGS,
    summary = "Change a ticket grade's name, price or stock (its organizer or an admin; Tessera's addition)",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    params(
        ("id" = Uuid, Path, description = "The meeting"),
        ("gradeId" = Uuid, Path, description = "The ticket grade"),
    ),
    request_body = GradeBody,
    responses(
        (status = 200, description = "The meeting", body = MeetingView),
        (status = 400, description = "'Validation Error' naming the field (`stock` below what is held and sold)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "'Forbidden': neither the meeting's organizer nor an admin", body = ErrorBody),
        (status = 404, description = "'Not Found': no such meeting or grade", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn change_grade(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    Path((id, grade_id)): Path<(String, String)>,
    MtJson(body, raw): MtJson<GradeBody>,
) -> Result<Response, MtError> {
    let id = path_id("meeting", &id)?;
    let grade_id = path_id("ticket grade", &grade_id)?;
    let parsed = (|| -> Result<MeetingChange, MtError> {
        let name = match &body.name {
            Some(n) => Some(text("name", Some(n), 100, true)?),
            None => None,
        };
        let price = body.price.as_ref().map(|p| yuan("price", p)).transpose()?;
        let stock = body.stock.map(|s| stock("stock", s)).transpose()?;
        Ok(MeetingChange::ChangeGrade {
            ticket_grade_id: TicketGradeId::from_uuid(grade_id),
            name,
            price,
            stock,
        })
    })()
    .map_err(|e| e.with_payload(&raw))?;
    manage(&state, &rid, &c, id, parsed).await
}

/// §6: 200 `[{id, name, type}]`: `wechatpay` when WeChat Pay is configured, `mock` when enabled.
#[utoipa::path(
    get,
    path = "/payment_methods",
    operation_id = "listPaymentMethods",
    tag = tags::PAYMENTS,
    summary = "Payment methods",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    responses(
        (status = 200, description = "`wechatpay` when WeChat Pay is configured, `mock` when enabled", body = Vec<PaymentMethodView>),
        (status = 401, response = Unauthorized),
        (status = 500, response = InternalError),
    ),
)]
async fn payment_methods(State(state): State<AppState>, _c: MtCaller) -> Response {
    let methods: Vec<PaymentMethodView> = state
        .services
        .meetings
        .payment_methods()
        .into_iter()
        .map(PaymentMethodView::from)
        .collect();
    Json(methods).into_response()
}
