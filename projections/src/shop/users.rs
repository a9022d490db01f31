//! Projector `shop_users`: `shop_accounts`, one row per identity user with what the shop shows of
//! them (docs/read-models.md, "Shop (seed 002)").

use super::{int, parse, stream_uuid};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use serde::Deserialize;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::identity::User;
use tessera_domain::shop::customer::ShopCustomer;

/// Writes `shop_accounts` from the `user` streams (openid, email, admin role, erasure) and the
/// `shopUser` streams (the shop's `user_id`, nickname, contact phone). `UserErased` blanks the
/// personal columns and marks the row erased, as a rebuild after erasure reads them from the log.
#[derive(Debug, Clone, Copy, Default)]
pub struct UsersProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Registered {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    wechat_id: Option<String>,
    roles: Vec<String>,
    registered_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleChanged {
    role: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmailChanged {
    email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Joined {
    user_id: u64,
    joined_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NicknameChanged {
    nickname: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneChanged {
    phone: Option<String>,
}

/// Insert the account row if missing (events of one user arrive in order, but a `shopUser` event
/// may be the first this projector sees of an account).
async fn ensure(
    tx: &mut ProjectionTx,
    account: &str,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO shop_accounts (account_id, updated_at) VALUES ($1, $2) \
             ON CONFLICT (account_id) DO NOTHING",
        )
        .bind(account)
        .bind(event.recorded_at)
    )?;
    Ok(())
}

#[async_trait]
impl Projector for UsersProjector {
    fn name(&self) -> &'static str {
        "shop_users"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[User::CATEGORY, ShopCustomer::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "UserRegistered",
            "UserRegisteredWithPhone",
            "UserRegisteredWithWechat",
            "UserEmailChanged",
            "RoleGranted",
            "RoleRevoked",
            "UserErased",
            "ShopUserJoined",
            "ShopUserNicknameChanged",
            "ShopUserPhoneChanged",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM shop_accounts"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let account = stream_uuid(event)?;
        let at = event.recorded_at;
        match event.event_type.as_str() {
            "UserRegistered" | "UserRegisteredWithPhone" | "UserRegisteredWithWechat" => {
                let d: Registered = parse(event)?;
                let admin = d.roles.iter().any(|r| r == "admin");
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO shop_accounts (account_id, openid, email, is_admin, updated_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET \
                         openid = excluded.openid, email = excluded.email, \
                         is_admin = excluded.is_admin",
                    )
                    .bind(&account)
                    .bind(&d.wechat_id)
                    .bind(&d.email)
                    .bind(admin)
                    .bind(d.registered_at)
                )?;
            }
            "UserEmailChanged" => {
                let d: EmailChanged = parse(event)?;
                ensure(tx, &account, event).await?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_accounts SET email = $1, updated_at = $2 WHERE account_id = $3",
                    )
                    .bind(&d.email)
                    .bind(at)
                    .bind(&account)
                )?;
            }
            t @ ("RoleGranted" | "RoleRevoked") => {
                let d: RoleChanged = parse(event)?;
                if d.role != "admin" {
                    return Ok(());
                }
                ensure(tx, &account, event).await?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_accounts SET is_admin = $1, updated_at = $2 WHERE account_id = $3",
                    )
                    .bind(t == "RoleGranted")
                    .bind(at)
                    .bind(&account)
                )?;
            }
            "UserErased" => {
                ensure(tx, &account, event).await?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_accounts SET openid = NULL, nickname = NULL, phone = NULL, \
                         email = NULL, erased = TRUE, updated_at = $1 WHERE account_id = $2",
                    )
                    .bind(at)
                    .bind(&account)
                )?;
            }
            "ShopUserJoined" => {
                let d: Joined = parse(event)?;
                ensure(tx, &account, event).await?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_accounts SET user_id = $1, created_at = $2, updated_at = $2 \
                         WHERE account_id = $3",
                    )
                    .bind(int(event, d.user_id)?)
                    .bind(d.joined_at)
                    .bind(&account)
                )?;
            }
            "ShopUserNicknameChanged" => {
                let d: NicknameChanged = parse(event)?;
                ensure(tx, &account, event).await?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_accounts SET nickname = $1, updated_at = $2 \
                         WHERE account_id = $3 AND NOT erased",
                    )
                    .bind(&d.nickname)
                    .bind(at)
                    .bind(&account)
                )?;
            }
            "ShopUserPhoneChanged" => {
                let d: PhoneChanged = parse(event)?;
                ensure(tx, &account, event).await?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_accounts SET phone = $1, updated_at = $2 \
                         WHERE account_id = $3 AND NOT erased",
                    )
                    .bind(&d.phone)
                    .bind(at)
                    .bind(&account)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
