//! Crypto-shredding (docs/decisions/0008-crypto-shredding.md) over the field classes of
//! `tessera_domain::shared::classification` (0007).
//!
//! - [`Privacy::seal_request`] replaces each personal or secret field of an event that has a data
//!   subject by a sealed envelope (AES-256-GCM under the subject's key, the event id and field
//!   name as associated data, so a ciphertext cannot be moved to another event or field):
//!   `{"$sealed": {"v": 1, "key": "<key id>", "nonce": "<base64>", "ct": "<base64>",
//!   "erased": <the value's shape with every string "[erased]">}}`. The hash chain is computed
//!   by the store over this sealed form, so erasing a key never breaks `tessera audit verify`.
//! - [`Privacy::open_events`] turns envelopes back into values on every read path (through
//!   [`PrivacyEventStore`]); once the key is destroyed, into the `erased` shape, which the domain
//!   and the projections decode like any value.
//! - [`Privacy::export_data`] is what auditors see (`/audit/*`, `tessera events export`,
//!   CloudEvents): plain fields as stored, personal ones opened (or erased), secret ones
//!   `"[secret]"`.
//!
//! Events appended before this store was in place are read as stored (plain text); erasure cannot
//! remove their personal data from the log (SECURITY.md, "Secrets and personal data").

mod keys;

pub use keys::{KEY_LEN, KeyState, KeyStore};

use async_trait::async_trait;
use aws_lc_rs::aead;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tessera_application::{
    AppendOutcome, AppendRequest, EventStore, RecordedEvent, StoreError, StreamId,
};
use tessera_domain::shared::classification::{self, Class, ERASED, EventClasses, SECRET, Subject};
use uuid::Uuid;

/// The key of a sealed envelope inside a field's place.
pub const SEALED: &str = "$sealed";

/// Sealing and opening of classified fields, over one [`KeyStore`].
#[derive(Debug, Clone)]
pub struct Privacy {
    keys: KeyStore,
}

/// The shape of `value` with every string replaced by the erased marker, numbers by 0 and
/// booleans by false: what an erased field reads as, so typed readers still decode it.
fn erased_shape(value: &Value) -> Value {
    match value {
        Value::String(_) => Value::String(ERASED.into()),
        Value::Number(_) => json!(0),
        Value::Bool(_) => Value::Bool(false),
        Value::Null => Value::Null,
        Value::Array(items) => Value::Array(items.iter().map(erased_shape).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), erased_shape(v)))
                .collect(),
        ),
    }
}

/// The data subject of one event, by the rule of its class entry.
fn subject_of(
    classes: &EventClasses,
    stream_id: &str,
    data: &Map<String, Value>,
) -> Option<String> {
    let text = |field: &str| data.get(field).and_then(Value::as_str).map(str::to_owned);
    match classes.subject {
        Subject::None => None,
        Subject::UserField(f) => text(f)
            .and_then(|id| id.parse::<Uuid>().ok())
            .map(|id| classification::user_subject(tessera_domain::UserId::from_uuid(id))),
        Subject::UserStream => stream_id
            .split_once('-')
            .and_then(|(_, id)| id.parse::<Uuid>().ok())
            .map(|id| classification::user_subject(tessera_domain::UserId::from_uuid(id))),
        Subject::PhoneField(f) => text(f).map(|p| classification::phone_subject(&p)),
        Subject::WechatField(f) => text(f).map(|w| classification::wechat_subject(&w)),
        Subject::ClaimedIdentifier => {
            let kind = serde_json::from_value(data.get("kind")?.clone()).ok()?;
            classification::claim_subject(kind, &text("value")?)
        }
    }
}

/// Whether a field of this class is sealed when the event has a subject. Fields the registry does
/// not know are sealed too (the completeness test keeps them out of the domain's events).
fn sealable(class: Option<Class>) -> bool {
    !matches!(class, Some(Class::Plain))
}

fn aad(event_id: Uuid, field: &str) -> String {
    format!("tessera-field-v1/{event_id}/{field}")
}

fn crypto_failed(what: &str) -> StoreError {
    StoreError::Unavailable(format!("{what} failed"))
}

/// A parsed envelope.
struct Envelope {
    key: Uuid,
    nonce: [u8; aead::NONCE_LEN],
    ct: Vec<u8>,
    erased: Value,
}

fn envelope(value: &Value) -> Option<Result<Envelope, StoreError>> {
    let inner = value.as_object()?.get(SEALED)?;
    let parse = || -> Option<Envelope> {
        let key = inner.get("key")?.as_str()?.parse().ok()?;
        let nonce = B64.decode(inner.get("nonce")?.as_str()?).ok()?;
        let ct = B64.decode(inner.get("ct")?.as_str()?).ok()?;
        Some(Envelope {
            key,
            nonce: nonce.try_into().ok()?,
            ct,
            erased: inner.get("erased").cloned().unwrap_or(Value::Null),
        })
    };
    Some(parse().ok_or_else(|| StoreError::Corrupt("a sealed field is malformed".into())))
}

impl Privacy {
    /// Sealing and opening over `keys`.
    pub fn new(keys: KeyStore) -> Self {
        Self { keys }
    }

    /// The key table (for erasure).
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// Seal the personal and secret fields of every event of `request` whose type has a data
    /// subject (docs/decisions/0008-crypto-shredding.md). Events of types outside the registry,
    /// fields that are `null`, and events whose subject cannot be found in the data pass through
    /// unchanged. Wrap any append path with this one call.
    ///
    /// Errors: [`StoreError::Unavailable`] when the key table cannot be read or written or the
    /// random source fails.
    pub async fn seal_request(
        &self,
        mut request: AppendRequest,
    ) -> Result<AppendRequest, StoreError> {
        let mut keys: HashMap<String, (Uuid, Box<[u8; KEY_LEN]>)> = HashMap::new();
        for event in &mut request.events {
            let Some(classes) = classification::classes(&event.event_type) else {
                continue;
            };
            let Value::Object(data) = &mut event.data else {
                continue;
            };
            let Some(subject) = subject_of(classes, request.stream_id.as_str(), data) else {
                continue;
            };
            let fields: Vec<String> = data
                .iter()
                .filter(|(k, v)| !v.is_null() && sealable(classes.class_of(k)))
                .map(|(k, _)| k.clone())
                .collect();
            if fields.is_empty() {
                continue;
            }
            if !keys.contains_key(&subject) {
                let key = self.keys.key_for(&subject).await?;
                keys.insert(subject.clone(), key);
            }
            let Some((key_id, key)) = keys.get(&subject) else {
                continue;
            };
            let sealing = aead::LessSafeKey::new(
                aead::UnboundKey::new(&aead::AES_256_GCM, key.as_slice())
                    .map_err(|_| crypto_failed("loading a privacy key"))?,
            );
            for field in fields {
                let Some(value) = data.get_mut(&field) else {
                    continue;
                };
                let mut nonce = [0u8; aead::NONCE_LEN];
                aws_lc_rs::rand::fill(&mut nonce)
                    .map_err(|_| crypto_failed("the random source"))?;
                let mut buffer = serde_json::to_vec(value)
                    .map_err(|e| StoreError::InvalidRequest(format!("{field}: {e}")))?;
                sealing
                    .seal_in_place_append_tag(
                        aead::Nonce::assume_unique_for_key(nonce),
                        aead::Aad::from(aad(event.event_id, &field).as_bytes()),
                        &mut buffer,
                    )
                    .map_err(|_| crypto_failed("sealing a field"))?;
                *value = json!({
                    SEALED: {
                        "v": 1,
                        "key": key_id,
                        "nonce": B64.encode(nonce),
                        "ct": B64.encode(&buffer),
                        "erased": erased_shape(value),
                    }
                });
            }
        }
        Ok(request)
    }

    /// Open every sealed field of `data` (one event's, of type `event_type`, id `event_id`) in
    /// place, using `keys` looked up beforehand: the value when the key lives, its erased shape
    /// when the key was destroyed or is unknown.
    fn open_data(
        event_type: &str,
        event_id: Uuid,
        data: &mut Value,
        keys: &HashMap<Uuid, KeyState>,
    ) -> Result<(), StoreError> {
        let Some(classes) = classification::classes(event_type) else {
            return Ok(());
        };
        let Value::Object(map) = data else {
            return Ok(());
        };
        for (field, value) in map.iter_mut() {
            if !sealable(classes.class_of(field)) {
                continue;
            }
            let Some(env) = envelope(value) else {
                continue;
            };
            let env = env?;
            *value = match keys.get(&env.key) {
                Some(KeyState::Live(key)) => {
                    let opening = aead::LessSafeKey::new(
                        aead::UnboundKey::new(&aead::AES_256_GCM, key.as_slice())
                            .map_err(|_| crypto_failed("loading a privacy key"))?,
                    );
                    let mut buffer = env.ct;
                    let plain = opening
                        .open_in_place(
                            aead::Nonce::assume_unique_for_key(env.nonce),
                            aead::Aad::from(aad(event_id, field).as_bytes()),
                            &mut buffer,
                        )
                        .map_err(|_| {
                            StoreError::Corrupt(format!(
                                "event {event_id}: sealed field {field} does not open with its key"
                            ))
                        })?;
                    serde_json::from_slice(plain).map_err(|e| {
                        StoreError::Corrupt(format!("event {event_id}: sealed field {field}: {e}"))
                    })?
                }
                Some(KeyState::Erased) => env.erased,
                None => {
                    tracing::warn!(%event_id, key_id = %env.key, "privacy key missing; field read as erased");
                    env.erased
                }
            };
        }
        Ok(())
    }

    /// The key ids of every sealed field in these data objects.
    fn key_ids<'a>(data: impl Iterator<Item = &'a Value>) -> Vec<Uuid> {
        let mut ids = HashSet::new();
        for d in data {
            if let Value::Object(map) = d {
                for v in map.values() {
                    if let Some(Ok(env)) = envelope(v) {
                        ids.insert(env.key);
                    }
                }
            }
        }
        ids.into_iter().collect()
    }

    /// Open the sealed fields of `events` (one key lookup for the whole batch).
    ///
    /// Errors: [`StoreError::Unavailable`], [`StoreError::Corrupt`] for a ciphertext that does
    /// not open with its key (altered data).
    pub async fn open_events(
        &self,
        mut events: Vec<RecordedEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let ids = Self::key_ids(events.iter().map(|e| &e.data));
        if ids.is_empty() {
            return Ok(events);
        }
        let keys = self.keys.lookup(&ids).await?;
        for e in &mut events {
            Self::open_data(&e.event_type, e.event_id, &mut e.data, &keys)?;
        }
        Ok(events)
    }

    /// What auditors see of each event's `data` (in order): plain fields as stored, personal
    /// fields opened (or erased), secret fields `"[secret]"` (a `null` stays `null`, so that a
    /// missing optional secret shows as missing). Events of types outside the registry are shown
    /// as stored.
    ///
    /// Errors: as [`Privacy::open_events`].
    pub async fn export_data(
        &self,
        events: &[crate::StoredEvent],
    ) -> Result<Vec<Value>, StoreError> {
        let ids = Self::key_ids(events.iter().map(|e| &e.data));
        let keys = self.keys.lookup(&ids).await?;
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let mut data = e.data.clone();
            if let (Some(classes), Value::Object(map)) =
                (classification::classes(&e.event_type), &mut data)
            {
                for (field, value) in map.iter_mut() {
                    let class = classes.class_of(field);
                    if class != Some(Class::Plain)
                        && class != Some(Class::Personal)
                        && !value.is_null()
                    {
                        *value = Value::String(SECRET.into());
                    }
                }
            }
            Self::open_data(&e.event_type, e.event_id, &mut data, &keys)?;
            out.push(data);
        }
        Ok(out)
    }
}

/// An [`EventStore`] that seals classified fields on append and opens them on every read, over
/// the raw store of either backend. Put it under the upcasting store, so that upcasters see
/// opened data.
pub struct PrivacyEventStore {
    inner: Arc<dyn EventStore>,
    privacy: Privacy,
}

impl PrivacyEventStore {
    /// Wrap `inner`.
    pub fn new(inner: Arc<dyn EventStore>, privacy: Privacy) -> Self {
        Self { inner, privacy }
    }
}

#[async_trait]
impl EventStore for PrivacyEventStore {
    async fn append_streams(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        let mut sealed = Vec::with_capacity(requests.len());
        for request in requests {
            sealed.push(self.privacy.seal_request(request).await?);
        }
        self.inner.append_streams(sealed).await
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self
            .inner
            .read_stream(stream_id, from_version, max_count)
            .await?;
        self.privacy.open_events(events).await
    }

    async fn read_all(
        &self,
        after: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.read_all(after, max_count).await?;
        self.privacy.open_events(events).await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        self.inner.head_position().await
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<u64, StoreError> {
        self.inner.stream_version(stream_id).await
    }

    async fn stream_versions(&self, stream_ids: &[&StreamId]) -> Result<Vec<u64>, StoreError> {
        self.inner.stream_versions(stream_ids).await
    }

    async fn wait_for_append(&self, after: u64, max_wait: Duration) -> Result<(), StoreError> {
        self.inner.wait_for_append(after, max_wait).await
    }

    fn instance_id(&self) -> Option<Uuid> {
        self.inner.instance_id()
    }
}
