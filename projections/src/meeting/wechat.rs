//! Projector `meeting_wechat_tokens`: WeChat tokens WeChat vouched for, by digest
//! (docs/read-models.md, "Meeting tickets (seed 000)").

use super::events::{UserRegisteredWithPhone, WechatTokenVerified};
use super::{parse, stream_id};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::identity::User;
use tessera_domain::identity::wechat::WechatAccount;
use tessera_domain::shared::classification::ERASED;

/// Writes `mt_wechat_tokens` from the `wechatAccount` streams: one row per token digest, the
/// latest verification winning (a token verified again after it expired gets its new expiry).
/// Only SHA-256 digests are stored, never tokens.
///
/// Also keeps `mt_wechat_users` (user → openid, from `UserRegisteredWithPhone`) so that
/// `UserErased` can turn the erased user's openid into `"[erased]"` in both tables, as a rebuild
/// after erasure reads it from the log (docs/decisions/0008-crypto-shredding.md).
#[derive(Debug, Clone, Copy, Default)]
pub struct WechatTokensProjector;

#[async_trait]
impl Projector for WechatTokensProjector {
    fn name(&self) -> &'static str {
        "meeting_wechat_tokens"
    }

    fn version(&self) -> u32 {
        2
    }

    fn categories(&self) -> &'static [&'static str] {
        &[WechatAccount::CATEGORY, User::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "WechatTokenVerified",
            "UserRegisteredWithPhone",
            "UserErased",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM mt_wechat_tokens"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM mt_wechat_users"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            "UserRegisteredWithPhone" => {
                let d: UserRegisteredWithPhone = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO mt_wechat_users (user_id, wechat_id) VALUES ($1, $2) \
                         ON CONFLICT (user_id) DO NOTHING",
                    )
                    .bind(d.user_id.to_string())
                    .bind(&d.wechat_id)
                )?;
                return Ok(());
            }
            "UserErased" => {
                let user_id = stream_id(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE mt_wechat_tokens SET wechat_id = $1 WHERE wechat_id = \
                         (SELECT wechat_id FROM mt_wechat_users WHERE user_id = $2)",
                    )
                    .bind(ERASED)
                    .bind(&user_id)
                )?;
                execute!(
                    &mut *tx,
                    sqlx::query("UPDATE mt_wechat_users SET wechat_id = $1 WHERE user_id = $2")
                        .bind(ERASED)
                        .bind(&user_id)
                )?;
                return Ok(());
            }
            "WechatTokenVerified" => {}
            _ => return Ok(()),
        }
        let d: WechatTokenVerified = parse(event)?;
        execute!(
            &mut *tx,
            sqlx::query(
                "INSERT INTO mt_wechat_tokens (token_hash, wechat_id, verified_at, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO UPDATE SET \
                 wechat_id = excluded.wechat_id, verified_at = excluded.verified_at, \
                 expires_at = excluded.expires_at",
            )
            .bind(&d.token_hash)
            .bind(&d.wechat_id)
            .bind(d.verified_at)
            .bind(d.expires_at)
        )?;
        Ok(())
    }
}
