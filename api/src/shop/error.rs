//! Seed 002's error shape `{"message": "..."}` with the statuses its "错误处理" section lists (400,
//! 401, 403, 404, 500) plus what Tessera adds (409 for a reused `Idempotency-Key`, 413, 502 when
//! WeChat fails, 503 when the store is busy); its JSON body extractor; the caller extractor
//! (`Authorization: Bearer` only); and how the neutral HTTP errors and the shop's use-case errors
//! read in this format. A 400's message starts with the request field at fault (`price: …`).

use crate::http::errors::ErrorDetail;
use crate::http::{AuthError, AuthRejection, BodyError, IdempotencyError, SignedIn, body};
use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tessera_application::shop::{Missing, NotPayable, ShopError};
use utoipa::ToSchema;

/// Every failure of the shop API: `{"message": "..."}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong; a 400 names the field first (`price: 最多两位小数`).
    #[schema(example = "price: 最多两位小数")]
    pub message: String,
}

/// An error of the shop API (seed 002).
#[derive(Debug)]
pub enum ShopApiError {
    /// 400: the request field at fault and why.
    Field(String, String),
    /// 401.
    Unauthorized(String),
    /// 403.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 409 (a reused or in-flight `Idempotency-Key`).
    Conflict(String),
    /// 502: WeChat failed or is not configured.
    Upstream(String),
    /// 503: the store failed or is busy; the detail is logged, not sent.
    Unavailable(String),
    /// 503 with its message sent as is: a feature this server does not offer as configured
    /// (WeChat Pay without a merchant).
    NotOffered(String),
}

impl ShopApiError {
    /// 400 naming `field`.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ShopApiError::Field(field.into(), reason.into())
    }
}

/// `{"message": message}` with `status`.
pub fn respond(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            message: message.into(),
        }),
    )
        .into_response()
}

impl IntoResponse for ShopApiError {
    fn into_response(self) -> Response {
        match self {
            ShopApiError::Field(field, reason) => {
                respond(StatusCode::BAD_REQUEST, format!("{field}: {reason}"))
            }
            ShopApiError::Unauthorized(m) => respond(StatusCode::UNAUTHORIZED, m),
            ShopApiError::Forbidden(m) => respond(StatusCode::FORBIDDEN, m),
            ShopApiError::NotFound(m) => respond(StatusCode::NOT_FOUND, m),
            ShopApiError::Conflict(m) => respond(StatusCode::CONFLICT, m),
            ShopApiError::Upstream(m) => {
                let mut r = respond(StatusCode::BAD_GATEWAY, "微信服务暂时不可用");
                ErrorDetail::attach(&mut r, m);
                r
            }
            ShopApiError::Unavailable(m) => {
                let mut r = respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "服务暂时不可用，请稍后重试",
                );
                ErrorDetail::attach(&mut r, m);
                r
            }
            ShopApiError::NotOffered(m) => respond(StatusCode::SERVICE_UNAVAILABLE, m),
        }
    }
}

/// The 404 message for a missing thing.
pub fn not_found(what: Missing) -> ShopApiError {
    ShopApiError::NotFound(
        match what {
            Missing::User => "用户不存在",
            Missing::Product => "商品不存在",
            Missing::Category => "商品分类不存在",
            Missing::Order => "订单不存在",
            Missing::Card => "会员卡不存在",
        }
        .into(),
    )
}

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

impl From<ShopError> for ShopApiError {
    fn from(e: ShopError) -> Self {
        match e {
            ShopError::Field(f) => ShopApiError::Field(f.field, f.reason),
            ShopError::WechatRefused { errcode, errmsg } => {
                ShopApiError::Unauthorized(format!("微信登录凭证无效 ({errcode}: {errmsg})"))
            }
            ShopError::WechatUnavailable(m) => ShopApiError::Upstream(m),
            ShopError::Disabled => ShopApiError::Unauthorized("用户已被停用或删除".into()),
            ShopError::NotFound(what) => not_found(what),
            ShopError::ParentNotFound(p) => {
                ShopApiError::field("parent_id", format!("上级分类 {p} 不存在"))
            }
            ShopError::Cycle { id, parent } => ShopApiError::field(
                "parent_id",
                format!("分类 {parent} 是分类 {id} 自身或其下级，不能作为上级分类"),
            ),
            ShopError::HasChildren(id) => {
                ShopApiError::field("id", format!("分类 {id} 下还有子分类，不能删除"))
            }
            ShopError::UnknownCategory(c) => {
                ShopApiError::field("category_id", format!("商品分类 {c} 不存在"))
            }
            ShopError::EmailTaken => ShopApiError::field("email", "该邮箱已被使用"),
            ShopError::OrderTransition { from, to } => {
                ShopApiError::field("status", format!("订单状态不能从 {from} 变为 {to}"))
            }
            ShopError::AlreadyPaid => ShopApiError::field("payment_id", "订单已用另一笔支付完成"),
            ShopError::AmountMismatch { paid, total } => ShopApiError::field(
                "amount",
                format!(
                    "支付金额 {} 与订单金额 {} 不符",
                    paid.amount(),
                    total.amount()
                ),
            ),
            ShopError::NotAShopUser => {
                ShopApiError::Forbidden("请先通过微信登录 (POST /weixin-login) 加入商城".into())
            }
            ShopError::CardFrozen => ShopApiError::field("card_id", "会员卡已冻结，不能充值或消费"),
            ShopError::InsufficientBalance { balance, amount } => ShopApiError::field(
                "amount",
                format!(
                    "余额不足：余额 {:.2}，需 {:.2}",
                    balance.amount(),
                    amount.amount()
                ),
            ),
            ShopError::BalanceNotZero(balance) => ShopApiError::field(
                "balance",
                format!("卡内余额 {:.2}，须先调整为 0.00 才能注销", balance.amount()),
            ),
            ShopError::AlreadyHoldsCard(card) => {
                ShopApiError::field("user_id", format!("该用户已持有会员卡 {card}"))
            }
            ShopError::NotPayable(why) => ShopApiError::field(
                "order_id",
                match why {
                    NotPayable::Paid => "订单已支付",
                    NotPayable::Cancelled => "订单已取消",
                    NotPayable::Expired => "订单已过期",
                    NotPayable::Refunded => "订单已退款",
                },
            ),
            ShopError::NoCard => ShopApiError::field("card_id", "没有可用的会员卡"),
            ShopError::WechatPayNotConfigured => {
                ShopApiError::NotOffered("微信支付未开通（服务器未配置商户号）".into())
            }
            ShopError::WechatPay(e) => ShopApiError::Upstream(e.to_string()),
            e @ (ShopError::NumberTaken
            | ShopError::Retry
            | ShopError::Identity(_)
            | ShopError::Engine(_)) => ShopApiError::Unavailable(error_chain(&e)),
        }
    }
}

impl From<tessera_projections::QueryError> for ShopApiError {
    fn from(e: tessera_projections::QueryError) -> Self {
        ShopApiError::Unavailable(e.to_string())
    }
}

impl From<AuthError> for ShopApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => {
                ShopApiError::Unauthorized("请先登录 (Authorization: Bearer <token>)".into())
            }
            AuthError::Invalid(e) => ShopApiError::Unauthorized(format!("登录已失效: {e}")),
            AuthError::MissingRole(_) => ShopApiError::Forbidden("权限不足，需要管理员权限".into()),
            AuthError::Unavailable(e) => ShopApiError::Unavailable(e.to_string()),
        }
    }
}

impl AuthRejection for ShopApiError {}

impl From<BodyError> for ShopApiError {
    fn from(e: BodyError) -> Self {
        ShopApiError::field("body", e.to_string())
    }
}

impl From<IdempotencyError> for ShopApiError {
    fn from(e: IdempotencyError) -> Self {
        let field = IdempotencyError::FIELD;
        match e {
            IdempotencyError::InvalidKey => ShopApiError::field(field, e.to_string()),
            IdempotencyError::Reused | IdempotencyError::InFlight => {
                ShopApiError::Conflict(format!("{field}: {e}"))
            }
            IdempotencyError::Unavailable(detail) => ShopApiError::Unavailable(detail),
        }
    }
}

/// The signed-in caller of a shop route.
pub type ShopCaller = SignedIn<ShopApiError>;

/// Only admins (`permission_level >= 1`, the shared admin role): 403 otherwise.
pub fn require_admin(c: &ShopCaller) -> Result<(), ShopApiError> {
    if c.is_admin() {
        Ok(())
    } else {
        Err(ShopApiError::Forbidden("权限不足，需要管理员权限".into()))
    }
}

/// A JSON object body: read within the body limit, parsed by the shared rules (no control
/// characters, depth limits), and required to be an object; 400 naming `body` otherwise.
#[derive(Debug)]
pub struct ShopJson(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for ShopJson {
    type Rejection = ShopApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body::read(req, state, false)
            .await
            .map_err(|e| ShopApiError::field("body", e.to_string()))?;
        match body::parse_json::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(ShopJson(map)),
            Ok(_) => Err(ShopApiError::field("body", "应为 JSON 对象")),
            Err(BodyError::Invalid { field, reason }) => Err(ShopApiError::Field(field, reason)),
            Err(other) => Err(ShopApiError::field("body", other.to_string())),
        }
    }
}
