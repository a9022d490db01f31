//! Seed 000's error shape `{ "type", "message", "payload", "errors" }` with the `type` strings the
//! document names, its JSON body extractor, the caller extractor (Bearer header or the
//! `access_token` cookie), and how the neutral HTTP errors read in this format.

use super::views::ErrorBody;
use crate::http::errors::ErrorDetail;
use crate::http::{
    AuthError, AuthRejection, BodyError, IdempotencyError, ParamError, SignedIn, body,
};
use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tessera_application::identity::phone_signin::{SignInError, WechatField};
use tessera_application::identity::ports::WechatAuthError;
use tessera_application::meeting::{MeetingServiceError, Missing, TransactionRefusal};
use tessera_domain::meeting::MeetingError;
use tessera_domain::meeting::order::OrderError;
use tessera_domain::meeting::ticket::TicketError;
use tessera_domain::shared::Money;

/// An error of the meeting-ticket API (seed 000). Statuses: 400, 401, 403, 404, 409, 410, 429,
/// 502, 503, 500.
#[derive(Debug)]
pub enum MtError {
    /// 400 'Validation Error': `errors` maps each field (JSON path) to a message.
    Validation {
        /// Field → message.
        errors: Map<String, Value>,
        /// The submitted object, when there was one.
        payload: Value,
    },
    /// 400 'No Stock': `errors.items[i].amount` is how many of line i's grade remain.
    NoStock {
        /// Remaining per line.
        remaining: Vec<u32>,
        /// The submitted order, echoed as the body's `payload`.
        payload: Value,
    },
    /// 401 'Unauthorized'.
    Unauthorized(String),
    /// 403 'Forbidden'.
    Forbidden(String),
    /// 404 'Not Found'.
    NotFound(String),
    /// 409 with a document type: 'Duplicated Wechat Id', 'Duplicated Phone', 'One for One'.
    Conflict(&'static str, String),
    /// 410 'Already Taken'.
    AlreadyTaken,
    /// 429 'Too Many Requests' with `Retry-After` (SMS cool-down).
    TooManyRequests(i64),
    /// 502 'Bad Gateway': WeChat, WeChat Pay or the SMS gateway failed.
    Upstream(String),
    /// 503 'Service Unavailable'.
    Unavailable(String),
}

impl MtError {
    /// 400 naming one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Map::new();
        errors.insert(field.into(), Value::String(message.into()));
        MtError::Validation {
            errors,
            payload: Value::Null,
        }
    }

    /// The same error carrying the submitted object as `payload` (400s only).
    pub fn with_payload(self, body: &Value) -> Self {
        match self {
            MtError::Validation { errors, .. } => MtError::Validation {
                errors,
                payload: body.clone(),
            },
            MtError::NoStock { remaining, .. } => MtError::NoStock {
                remaining,
                payload: body.clone(),
            },
            other => other,
        }
    }
}

impl IntoResponse for MtError {
    fn into_response(self) -> Response {
        let upstream = match &self {
            MtError::Upstream(m) => Some(m.clone()),
            _ => None,
        };
        let (status, kind, message, payload, errors) = match self {
            MtError::Validation { errors, payload } => (
                StatusCode::BAD_REQUEST,
                "Validation Error",
                "提交的信息有误".to_owned(),
                payload,
                Value::Object(errors),
            ),
            MtError::NoStock { remaining, payload } => (
                StatusCode::BAD_REQUEST,
                "No Stock",
                "库存不足".to_owned(),
                payload,
                json!({ "items": remaining.iter().map(|n| json!({ "amount": n })).collect::<Vec<_>>() }),
            ),
            MtError::Unauthorized(m) => (
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                m,
                Value::Null,
                Value::Null,
            ),
            MtError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                "Forbidden",
                m,
                Value::Null,
                Value::Null,
            ),
            MtError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                "Not Found",
                m,
                Value::Null,
                Value::Null,
            ),
            MtError::Conflict(kind, m) => (StatusCode::CONFLICT, kind, m, Value::Null, Value::Null),
            MtError::AlreadyTaken => (
                StatusCode::GONE,
                "Already Taken",
                "门票已被他人领取".to_owned(),
                Value::Null,
                Value::Null,
            ),
            MtError::TooManyRequests(secs) => {
                let body = ErrorBody {
                    errors: json!({ "phone": format!("请{secs}秒后再试") }),
                    message: format!("验证码发送过于频繁，请{secs}秒后再试"),
                    payload: Value::Null,
                    kind: "Too Many Requests".into(),
                };
                let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return response;
            }
            MtError::Upstream(m) => (
                StatusCode::BAD_GATEWAY,
                "Bad Gateway",
                m,
                Value::Null,
                Value::Null,
            ),
            MtError::Unavailable(m) => {
                let body = ErrorBody {
                    errors: Value::Null,
                    message: "服务暂时不可用，请稍后重试".into(),
                    payload: Value::Null,
                    kind: "Service Unavailable".into(),
                };
                let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
                ErrorDetail::attach(&mut response, m);
                return response;
            }
        };
        let body = ErrorBody {
            errors,
            message,
            payload,
            kind: kind.into(),
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(detail) = upstream {
            ErrorDetail::attach(&mut response, detail);
        }
        response
    }
}

/// Each sign-in failure in seed 000's words: refusals become a 400 naming the request field,
/// 409 'Duplicated …', 429 (SMS cool-down), 401 or 404; WeChat and SMS gateway failures a 502;
/// engine and crypto failures an opaque 503 (the detail goes to the log).
impl From<SignInError> for MtError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Phone(e) => MtError::field("phone", e.to_string()),
            SignInError::Wechat { field, empty } => MtError::field(
                match field {
                    WechatField::Id => "wechatId",
                    WechatField::Token => "wechatToken",
                },
                if empty {
                    "不能为空"
                } else {
                    "格式不正确"
                },
            ),
            SignInError::SmsCodeFormat => MtError::field("smsCode", "验证码应为6位数字"),
            SignInError::SmsCodeExpired => MtError::field("smsCode", "验证码已失效，请重新获取"),
            SignInError::SmsCodeWrong { attempts_left } => {
                MtError::field("smsCode", format!("验证码错误，还可尝试{attempts_left}次"))
            }
            SignInError::WechatRefused { errcode, errmsg } => {
                MtError::field("wechatToken", format!("微信验证失败 ({errcode}: {errmsg})"))
            }
            SignInError::WechatNotVerified => {
                MtError::field("wechatId", "微信身份未验证，请先提交 /wechat_tokens")
            }
            SignInError::DuplicatedWechatId => {
                MtError::Conflict("Duplicated Wechat Id", "该微信号已注册".into())
            }
            SignInError::DuplicatedPhone => {
                MtError::Conflict("Duplicated Phone", "该手机号已注册".into())
            }
            SignInError::CoolingDown { retry_after_secs } => {
                MtError::TooManyRequests(retry_after_secs)
            }
            SignInError::InvalidCredentials => MtError::Unauthorized("登录凭证无效".into()),
            SignInError::NotFound => MtError::NotFound("用户不存在".into()),
            SignInError::Sms(e) => MtError::Upstream(e.to_string()),
            SignInError::WechatUnavailable(WechatAuthError::Unavailable(m)) => MtError::Upstream(m),
            SignInError::WechatUnavailable(e) => MtError::Upstream(e.to_string()),
            SignInError::Crypto(m) => MtError::Unavailable(m),
            e @ (SignInError::SmsChallenge(_) | SignInError::Token(_) | SignInError::Engine(_)) => {
                MtError::Unavailable(error_chain(&e))
            }
        }
    }
}

/// Each meeting-ticket failure in seed 000's words: refusals become a 400 naming the field the
/// client sent (order lines as `items[i]…`), 403, 404, 409 'One for One' or 410 'Already Taken';
/// WeChat Pay failures a 502; engine failures an opaque 503 (the detail goes to the log).
impl From<MeetingServiceError> for MtError {
    fn from(e: MeetingServiceError) -> Self {
        use MeetingServiceError as E;
        match e {
            E::Meeting(e) => meeting_refusal(e),
            E::Order(e) => order_refusal(e),
            E::Ticket(TicketError::AlreadyTaken) => MtError::AlreadyTaken,
            E::Ticket(TicketError::NotFound) => not_found(Missing::Ticket),
            // Another user's ticket reads as missing; the claim route answers 403 instead to its
            // participant, who can see it.
            E::Ticket(TicketError::NotBuyer) => not_found(Missing::Ticket),
            E::NotFound(what) => not_found(what),
            E::Forbidden => {
                MtError::Forbidden("only the meeting's organizer or an admin may do this".into())
            }
            E::UnsupportedPaymentMethod(_) => MtError::field("paymentMethodId", "不支持的支付方式"),
            E::WechatUserRequired => MtError::field("paymentMethodId", "微信支付需要微信用户"),
            E::NotPayable(status) => MtError::field(
                "orderId",
                format!("订单状态为{}，无需支付", status.as_str()),
            ),
            E::Transaction(refusal) => MtError::field(
                "transactionId",
                match refusal {
                    TransactionRefusal::Malformed => "交易号格式不正确",
                    TransactionRefusal::NotConfirmed => "微信支付未确认该交易",
                    TransactionRefusal::NotMock => "模拟支付的交易号以 mock_ 开头",
                },
            ),
            E::OneForOne => MtError::Conflict(
                "One for One",
                "对于任意一个会议, 一个用户只能拥有的一个参会名额".into(),
            ),
            E::WechatPayNotConfigured => MtError::Upstream("WeChat Pay is not configured".into()),
            E::Payment(pay) => MtError::Upstream(pay.to_string()),
            E::PaidAmount { fen, .. } => MtError::field("amount", format!("支付金额 {fen} 分无效")),
            E::PaymentParams(_) | E::Amount(_) | E::Engine(_) => {
                MtError::Unavailable(error_chain(&e))
            }
        }
    }
}

/// 404 `{what} not found`, `what` as the document names it.
fn not_found(what: Missing) -> MtError {
    let what = match what {
        Missing::Meeting => "meeting",
        Missing::Order => "order",
        Missing::Ticket => "ticket",
    };
    MtError::NotFound(format!("{what} not found"))
}

fn meeting_refusal(e: MeetingError) -> MtError {
    match e {
        MeetingError::NotFound => not_found(Missing::Meeting),
        MeetingError::AlreadyExists => MtError::Unavailable("meeting id reused".into()),
        MeetingError::EndBeforeStart => MtError::field("endTime", "结束时间必须晚于开始时间"),
        MeetingError::DuplicateGrade(_) => MtError::field("ticketGrades", "票种重复"),
        MeetingError::NotCny(_) => MtError::field("price", "价格应以人民币计"),
        MeetingError::UnknownGrade { index, .. } => match index {
            Some(i) => MtError::field(format!("items[{i}].ticketGradeId"), "票种不存在"),
            None => MtError::NotFound("ticketGrade not found".into()),
        },
        MeetingError::StockBelowCommitted { committed } => MtError::field(
            "stock",
            format!("库存不能少于已预留和已售出的 {committed} 张"),
        ),
        MeetingError::NotOnSale => MtError::field("meetingId", "会议未在售票"),
        MeetingError::PriceMismatch {
            index,
            current_price,
        } => MtError::field(
            format!("items[{index}].ticketPrice"),
            format!("票价已变为 {}", yuan_text(&current_price)),
        ),
        MeetingError::NoStock { remaining } => MtError::NoStock {
            remaining,
            payload: Value::Null,
        },
        MeetingError::EmptyOrder => MtError::field("items", "至少需要一张票"),
    }
}

fn order_refusal(e: OrderError) -> MtError {
    match e {
        OrderError::NotFound => not_found(Missing::Order),
        OrderError::NotPending(status) => MtError::field(
            "status",
            format!(
                "订单状态为{}，只能将待支付的订单改为已取消",
                status.as_str()
            ),
        ),
        OrderError::AmountMismatch { paid, total } => MtError::field(
            "amount",
            format!(
                "支付金额 {} 与订单金额 {} 不符",
                yuan_text(&paid),
                yuan_text(&total)
            ),
        ),
        // Only the issuing process manager allocates tickets; no client route reaches these.
        e @ (OrderError::NotPaid(_) | OrderError::TicketsMismatch) => {
            MtError::Unavailable(e.to_string())
        }
    }
}

/// An amount of money as its major unit with two decimals, the way messages show yuan
/// (`99.50`, `0.05`, `120.00`).
pub fn yuan_text(m: &Money) -> String {
    format!("{:.2}", m.amount())
}

/// `e` and its sources, `: `-separated, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl From<tessera_projections::QueryError> for MtError {
    fn from(e: tessera_projections::QueryError) -> Self {
        MtError::Unavailable(e.to_string())
    }
}

impl From<AuthError> for MtError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => {
                MtError::Unauthorized("请先登录 (Authorization: Bearer …)".into())
            }
            AuthError::Invalid(e) => MtError::Unauthorized(format!("登录已失效: {e}")),
            AuthError::MissingRole(role) => {
                MtError::Forbidden(format!("this action needs the {role} role"))
            }
            AuthError::Unavailable(e) => MtError::Unavailable(e.to_string()),
        }
    }
}

/// Seed 000's clients may keep the access token in the `access_token` cookie.
impl AuthRejection for MtError {
    const TOKEN_COOKIE: Option<&'static str> = Some("access_token");
}

/// A body the idempotency layer could not read (too large, cut off): 400 naming `body`, as
/// [`MtJson`] says it.
impl From<BodyError> for MtError {
    fn from(e: BodyError) -> Self {
        MtError::field("body", e.to_string())
    }
}

/// `Idempotency-Key` refusals (docs/decisions/0010-idempotency-keys.md): a bad key is a 400
/// 'Validation Error' naming the header; a key reused with another body, or whose first request is
/// still running, a 409 'Conflict'.
impl From<IdempotencyError> for MtError {
    fn from(e: IdempotencyError) -> Self {
        let field = IdempotencyError::FIELD;
        match e {
            IdempotencyError::InvalidKey => MtError::field(field, e.to_string()),
            IdempotencyError::Reused | IdempotencyError::InFlight => {
                MtError::Conflict("Conflict", format!("{field}: {e}"))
            }
            IdempotencyError::Unavailable(detail) => MtError::Unavailable(detail),
        }
    }
}

impl From<ParamError> for MtError {
    fn from(e: ParamError) -> Self {
        let message = match &e {
            ParamError::NotANumber { min, max, .. } | ParamError::OutOfRange { min, max, .. } => {
                format!("应为 {min} 到 {max} 的整数")
            }
        };
        MtError::field(e.field(), message)
    }
}

/// A JSON body (any content type is accepted: the document's clients are mini-programs whose
/// `wx.request` sends JSON). Malformed JSON or a wrong type is a 400 naming the field, with the
/// submitted object as `payload`.
#[derive(Debug)]
pub struct MtJson<T>(pub T, pub Value);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for MtJson<T> {
    type Rejection = MtError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body::read(req, state, false)
            .await
            .map_err(|e| MtError::field("body", e.to_string()))?;
        let raw: Value = serde_json::from_slice(&bytes)
            .map_err(|e| MtError::field("body", format!("JSON 格式错误: {e}")))?;
        match body::parse_json::<T>(&bytes) {
            Ok(v) => Ok(MtJson(v, raw)),
            Err(BodyError::Invalid { field, reason }) => {
                Err(MtError::field(field, reason).with_payload(&raw))
            }
            Err(other) => Err(MtError::field("body", other.to_string())),
        }
    }
}

/// The signed-in caller of a seed 000 route (seed 000: "以下API全部需要在header中有Authorization";
/// the `access_token` cookie is accepted too). Rejection: 401 'Unauthorized'.
pub type MtCaller = SignedIn<MtError>;

#[cfg(test)]
mod tests {
    use super::yuan_text;
    use tessera_domain::meeting::fen;

    #[test]
    fn yuan_reads_with_two_decimals() {
        let text = |n| yuan_text(&fen::money(n).unwrap());
        assert_eq!(text(9950), "99.50");
        assert_eq!(text(5), "0.05");
        assert_eq!(text(0), "0.00");
        assert_eq!(text(12_000), "120.00");
    }
}
