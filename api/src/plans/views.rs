//! Response shapes of the plans document, built from read-model rows and the catalogue. Ids are
//! 24-hex ObjectId strings, instants ISO 8601 (RFC 3339, UTC), enums as seed 004 types them,
//! prices decimal strings of CNY (exact, never floats).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tessera_domain::plans::PlanType;
use tessera_domain::plans::catalogue::{PlanOffer, Product};
use tessera_domain::plans::team_plan::PlanStatus;
use tessera_projections::plans::{CompanyRow, MemberRow, StatusRow};
use utoipa::ToSchema;

/// A company (`POST /company`, `GET /company/:companyId`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompanyView {
    /// Its id.
    #[schema(example = "65a1f0c2e4b0a1b2c3d4e5f6")]
    pub _id: String,
    /// Its name.
    pub name: String,
    /// The creator's `user_id`.
    pub owner_id: String,
    /// Created.
    pub date_create: DateTime<Utc>,
}

impl From<CompanyRow> for CompanyView {
    fn from(r: CompanyRow) -> Self {
        Self {
            _id: r.company_id,
            name: r.name,
            owner_id: r.owner_id,
            date_create: r.created_at,
        }
    }
}

/// A member (`GET /company/:companyId/members`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberView {
    /// Their plans `user_id`.
    pub user_id: String,
    /// The company.
    pub company_id: String,
    /// `owner` or `member`.
    #[schema(example = "member")]
    pub role: String,
    /// When they joined.
    pub date_join: DateTime<Utc>,
}

impl From<MemberRow> for MemberView {
    fn from(r: MemberRow) -> Self {
        Self {
            user_id: r.user_id,
            company_id: r.company_id,
            role: r.role,
            date_join: r.joined_at,
        }
    }
}

/// A product of a plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductView {
    /// Its id.
    pub _id: String,
    /// The code orders name.
    #[schema(example = "pro-member-month")]
    pub product_no: String,
    /// What to show.
    pub title: String,
    /// `pro` or `ent`.
    pub plan: String,
    /// CNY per member per calendar month, a decimal string.
    #[schema(example = "30.00")]
    pub price: String,
    /// Always `member_month`: the price is per member per calendar month.
    pub unit: &'static str,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> Self {
        Self {
            _id: p.id.to_string(),
            product_no: p.product_no.clone(),
            title: p.title.clone(),
            plan: p.plan.as_str().to_owned(),
            price: format!("{:.2}", p.price),
            unit: "member_month",
        }
    }
}

/// One plan of `GET /plan/list` (the seed's shape).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanView {
    /// Display name.
    pub name: String,
    /// `free`, `pro` or `ent`.
    #[serde(rename = "type")]
    pub plan_type: String,
    /// Description.
    pub description: String,
    /// Stores allowed.
    pub store: u32,
    /// Members allowed (free plan and trials; a paid period allows what it bought).
    pub member: u32,
    /// How it is sold.
    pub products: Vec<ProductView>,
    /// Free text.
    pub ext_info: String,
}

impl From<&PlanOffer> for PlanView {
    fn from(o: &PlanOffer) -> Self {
        Self {
            name: o.name.clone(),
            plan_type: o.plan.as_str().to_owned(),
            description: o.description.clone(),
            store: o.store,
            member: o.member,
            products: o.products.iter().map(ProductView::from).collect(),
            ext_info: o.ext_info.clone(),
        }
    }
}

/// What is current (`current` of `GET /plan/status`, and the answer of `POST /plan/trial`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CurrentView {
    /// The trial's or paid period's id.
    pub _id: String,
    /// `trial` or `paid`.
    #[serde(rename = "type")]
    #[schema(example = "trial")]
    pub kind: String,
    /// Who started or bought it.
    pub user_id: String,
    /// `pro` or `ent`.
    pub plan: String,
    /// `actived`, `overdue` or `expired` (a running trial is `actived`).
    pub status: String,
    /// Start.
    pub date_start: DateTime<Utc>,
    /// End (a paid period: local midnight in Asia/Shanghai after its last day).
    pub date_end: DateTime<Utc>,
    /// Members bought (paid periods only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_count: Option<i64>,
}

/// `viable` of `GET /plan/status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ViableView {
    /// Paid plans neither bought nor trialled.
    pub trial: Vec<String>,
    /// Paid plans the company is certified for (`ent` certified covers `pro`).
    pub paid: Vec<String>,
}

/// `GET /plan/status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusView {
    /// The company.
    pub company_id: String,
    /// The running trial, else the latest paid period (also once expired), else null (free).
    pub current: Option<CurrentView>,
    /// What can be tried or bought.
    pub viable: ViableView,
    /// The highest certified plan, or null.
    #[schema(value_type = Option<String>)]
    pub certified: Option<String>,
    /// The scheduled downgrade (`{_id, order: {_id, plan, member_count}, time, date_create,
    /// status}`), or null.
    #[schema(value_type = Option<Object>)]
    pub degrade: Option<serde_json::Value>,
}

/// The status at `now` of a company whose row is `row` (none: never tried or bought).
pub fn status_view(company_id: &str, row: Option<StatusRow>, now: DateTime<Utc>) -> StatusView {
    let mut current = None;
    let mut trial = PlanType::PAID.to_vec();
    if let Some(r) = row {
        if let (Some(id), Some(plan), Some(user), Some(start), Some(end)) = (
            &r.trial_id,
            &r.trial_plan,
            &r.trial_user_id,
            r.trial_start,
            r.trial_end,
        ) && now < end
        {
            current = Some(CurrentView {
                _id: id.clone(),
                kind: "trial".into(),
                user_id: user.clone(),
                plan: plan.clone(),
                status: PlanStatus::Actived.as_str().into(),
                date_start: start,
                date_end: end,
                member_count: None,
            });
        }
        if current.is_none()
            && let (Some(id), Some(plan), Some(user), Some(start), Some(end), Some(grace)) = (
                &r.paid_id,
                &r.paid_plan,
                &r.paid_user_id,
                r.paid_start,
                r.paid_end,
                r.paid_grace_end,
            )
        {
            // As recorded by its events, or later by the clock (deadlines may not have fired).
            let recorded = r.paid_status.as_deref().unwrap_or("actived");
            let status = if recorded == "expired" || now >= grace {
                PlanStatus::Expired
            } else if now >= end || recorded == "overdue" {
                PlanStatus::Overdue
            } else {
                PlanStatus::Actived
            };
            current = Some(CurrentView {
                _id: id.clone(),
                kind: "paid".into(),
                user_id: user.clone(),
                plan: plan.clone(),
                status: status.as_str().into(),
                date_start: start,
                date_end: end,
                member_count: r.paid_members,
            });
        }
        trial.retain(|p| match p {
            PlanType::Pro => !r.trialled_pro && !r.bought_pro,
            PlanType::Ent => !r.trialled_ent && !r.bought_ent,
            PlanType::Free => false,
        });
    }
    StatusView {
        company_id: company_id.to_owned(),
        current,
        viable: ViableView {
            trial: trial.iter().map(|p| p.as_str().to_owned()).collect(),
            paid: Vec::new(),
        },
        certified: None,
        degrade: None,
    }
}
