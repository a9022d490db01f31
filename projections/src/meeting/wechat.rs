//! Projector `meeting_wechat_tokens`: WeChat tokens WeChat vouched for, by digest
//! (docs/read-models.md, "Meeting tickets (seed 000)").

use super::events::WechatTokenVerified;
use super::parse;
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::identity::wechat::WechatAccount;

/// Writes `mt_wechat_tokens` from the `wechatAccount` streams: one row per token digest, the
/// latest verification winning (a token verified again after it expired gets its new expiry).
/// Only SHA-256 digests are stored, never tokens.
#[derive(Debug, Clone, Copy, Default)]
pub struct WechatTokensProjector;

#[async_trait]
impl Projector for WechatTokensProjector {
    fn name(&self) -> &'static str {
        "meeting_wechat_tokens"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[WechatAccount::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &["WechatTokenVerified"]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM mt_wechat_tokens"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        if event.event_type != "WechatTokenVerified" {
            return Ok(());
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
