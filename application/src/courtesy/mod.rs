//! Courtesy's use cases (seed 001): [`accounts`] (register, sign in and out with a cookie session,
//! account info, profile edits), [`uploads`] (avatars, banners and card resources into the
//! [`crate::blobs::BlobStore`], `res_query`), [`cards`] (QR codes, cards, news); [`error`] says why one failed. No HTTP type reaches here.
//!
//! Every write returns the global position it reached (`None` when nothing changed), so the api
//! can wait for the read models before answering (docs/decisions/0004-read-your-writes.md).

pub mod accounts;
pub mod cards;
pub mod error;
pub mod uploads;

pub use crate::blobs::{BlobError, BlobStore, StoredBlob};
pub use accounts::{AccountInfo, SignedIn};
pub use cards::{CardDraft, QrInfo};
pub use error::CourtesyError;
pub use uploads::ImageInput;

use crate::clock::Clock;
use crate::command::CommandRunner;
use crate::identity::IdentityService;
use chrono::{DateTime, SubsecRound, Utc};
use std::sync::Arc;

/// Courtesy's ports.
pub struct CourtesyPorts {
    /// Appends and loads aggregates.
    pub runner: CommandRunner,
    /// Source of the current time.
    pub clock: Arc<dyn Clock>,
    /// The shared identity: emails, passwords, sessions, disabling.
    pub identity: IdentityService,
    /// Where uploaded files go.
    pub blobs: Arc<dyn BlobStore>,
}

/// Courtesy's use cases. Cheap to clone.
#[derive(Clone)]
pub struct CourtesyService {
    runner: CommandRunner,
    clock: Arc<dyn Clock>,
    identity: IdentityService,
    blobs: Arc<dyn BlobStore>,
}

impl std::fmt::Debug for CourtesyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CourtesyService").finish_non_exhaustive()
    }
}

impl CourtesyService {
    /// A service over `ports`.
    pub fn new(ports: CourtesyPorts) -> Self {
        Self {
            runner: ports.runner,
            clock: ports.clock,
            identity: ports.identity,
            blobs: ports.blobs,
        }
    }

    /// The blob store (the api serves files from it).
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// Now, cut to microseconds (the stored precision).
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }
}
