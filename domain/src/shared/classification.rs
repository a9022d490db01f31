//! Which fields of stored events are secret, personal or plain, and whose personal data they are:
//! the one registry every export path and the crypto-shredding store read
//! (docs/decisions/0007-field-classification.md, 0008-crypto-shredding.md).
//!
//! Lives in the domain because the classes are part of each event's schema, like its field names:
//! the event enums are defined here, so the table sits next to them and every outer layer
//! (infrastructure's sealing store and exports, the projections, the api) can read it without
//! depending on one another. `tests/tests/privacy.rs` reads the field names of every
//! variant of every aggregate's event enum and fails on any field this table does not classify.
//!
//! Classification is per top-level field of the stored `data` object: a nested object (e.g. a
//! meeting participant `{name, phone}`) takes one class as a whole.

use crate::UserId;
use crate::shared::claim::ClaimKind;

/// How a field may travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Ids, amounts, times, states, names of things (not people): shown everywhere.
    Plain,
    /// About an identifiable person (email, phone, person names, WeChat openid, free text a person
    /// wrote about themselves): encrypted under its data subject's key, shown to auditors while the
    /// key exists, `"[erased]"` after erasure.
    Personal,
    /// Only for the server's own checks (password, SMS code and token hashes): encrypted like
    /// personal data where the event has a subject, and never shown by any export (`"[secret]"`).
    Secret,
}

/// Whose personal data an event's non-plain fields are: the data subject whose key seals them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The event has no personal or secret field worth sealing (secret fields stay readable by
    /// the server and are only masked in exports).
    None,
    /// The user whose id is in this `data` field (a UUID string).
    UserField(&'static str),
    /// The user whose id is the stream's id (`user-{userId}`).
    UserStream,
    /// The person owning the mainland phone number in this `data` field (SMS codes are sent before
    /// anyone knows which user, if any, the number belongs to).
    PhoneField(&'static str),
    /// The person owning the WeChat openid in this `data` field.
    WechatField(&'static str),
    /// A guard-stream claim (`IdentifierClaimed`): the person owning the claimed `value`, by its
    /// `kind`: a phone number (`phone`), a WeChat openid (`wechatId`), or the attendee phone after
    /// the last `:` of `{meetingId}:{phone}` (`meetingAttendee`). Not the `owner`, which may be a
    /// ticket rather than a user.
    ClaimedIdentifier,
}

/// The classes of one stored event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventClasses {
    /// Stored event type, e.g. `UserRegistered`.
    pub event_type: &'static str,
    /// Whose data its non-plain fields are.
    pub subject: Subject,
    /// Every top-level field of its `data` (camelCase, as stored) with its class.
    pub fields: &'static [(&'static str, Class)],
}

impl EventClasses {
    /// The class of `field`; `None` for a field the registry does not know.
    pub fn class_of(&self, field: &str) -> Option<Class> {
        self.fields
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, class)| *class)
    }
}

/// The erased marker: what a personal or secret string reads as once its subject's key is gone.
/// [`crate::identity::Email`] and [`crate::identity::Phone`] deserialise it, so aggregates and
/// projections still replay erased history.
pub const ERASED: &str = "[erased]";

/// What exports show instead of a secret field's value.
pub const SECRET: &str = "[secret]";

/// The key-store name of a user as a data subject: `user:{userId}`.
pub fn user_subject(user_id: UserId) -> String {
    format!("user:{user_id}")
}

/// The key-store name of a phone number's owner: `phone:{uuid v5}`. A digest, so that the key
/// table does not list numbers in clear; it is not secret (11 digits can be enumerated), and it
/// is deleted with the key on erasure.
pub fn phone_subject(phone: &str) -> String {
    let name = format!("tessera:subject:phone:{}", phone.trim());
    format!(
        "phone:{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// The key-store name of a WeChat openid's owner: `wechat:{uuid v5}` (see [`phone_subject`]).
pub fn wechat_subject(openid: &str) -> String {
    let name = format!("tessera:subject:wechat:{openid}");
    format!(
        "wechat:{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// The data subject of a guard-stream claim on `value` ([`Subject::ClaimedIdentifier`]): the owner
/// of the phone number or WeChat openid it guards. `None` only for a `meetingAttendee` value
/// without the `{meetingId}:` prefix. The match is exhaustive, so a new claim kind must say here
/// whose data its values are.
pub fn claim_subject(kind: ClaimKind, value: &str) -> Option<String> {
    match kind {
        ClaimKind::Phone => Some(phone_subject(value)),
        ClaimKind::WechatId => Some(wechat_subject(value)),
        ClaimKind::MeetingAttendee => value
            .rsplit_once(':')
            .map(|(_, phone)| phone_subject(phone)),
    }
}

/// The classes of a stored event type; `None` for a type outside the domain (tests' own types).
pub fn classes(event_type: &str) -> Option<&'static EventClasses> {
    REGISTRY.iter().find(|c| c.event_type == event_type)
}

use Class::{Personal, Plain, Secret};

const fn ev(
    event_type: &'static str,
    subject: Subject,
    fields: &'static [(&'static str, Class)],
) -> EventClasses {
    EventClasses {
        event_type,
        subject,
        fields,
    }
}

/// Every stored event type of the domain with the class of each of its fields.
///
/// Choices worth knowing (docs/event-catalog.md repeats them per event):
/// - organisers' texts about their events (titles, descriptions, venue names and addresses,
///   meeting locations) are about places and events, not people: plain;
/// - a meeting participant is the attendee's personal data, filed under the user who named them
///   (`assignedBy`), so erasing that buyer erases what they typed;
/// - payment provider references, `reason` texts written by the system and ids are plain;
/// - refresh-token rotations carry no user id: their hashes stay readable in the log (they are
///   hashes of random tokens, useless once the family expired) and are masked in exports.
pub const REGISTRY: &[EventClasses] = &[
    // identity: User
    ev(
        "UserRegistered",
        Subject::UserField("userId"),
        &[
            ("userId", Plain),
            ("email", Personal),
            ("passwordHash", Secret),
            ("displayName", Personal),
            ("roles", Plain),
            ("registeredAt", Plain),
        ],
    ),
    ev(
        "UserRegisteredWithPhone",
        Subject::UserField("userId"),
        &[
            ("userId", Plain),
            ("phone", Personal),
            ("wechatId", Personal),
            ("roles", Plain),
            ("registeredAt", Plain),
        ],
    ),
    ev(
        "UserRegisteredWithWechat",
        Subject::UserField("userId"),
        &[
            ("userId", Plain),
            ("wechatId", Personal),
            ("roles", Plain),
            ("registeredAt", Plain),
        ],
    ),
    ev(
        "UserRegisteredWithOAuth",
        Subject::UserField("userId"),
        &[
            ("userId", Plain),
            ("provider", Plain),
            ("email", Personal),
            ("displayName", Personal),
            ("roles", Plain),
            ("registeredAt", Plain),
        ],
    ),
    ev(
        "PasswordSetByAdmin",
        Subject::UserStream,
        &[("passwordHash", Secret), ("setBy", Plain), ("setAt", Plain)],
    ),
    ev(
        "UserEmailChanged",
        Subject::UserStream,
        &[
            ("email", Personal),
            ("changedBy", Plain),
            ("changedAt", Plain),
        ],
    ),
    ev(
        "PasswordChanged",
        Subject::UserStream,
        &[("passwordHash", Secret), ("changedAt", Plain)],
    ),
    ev(
        "RoleGranted",
        Subject::None,
        &[("role", Plain), ("grantedBy", Plain), ("grantedAt", Plain)],
    ),
    ev(
        "RoleRevoked",
        Subject::None,
        &[("role", Plain), ("revokedBy", Plain), ("revokedAt", Plain)],
    ),
    ev(
        "UserDisabled",
        Subject::None,
        &[("disabledBy", Plain), ("disabledAt", Plain)],
    ),
    ev(
        "UserEnabled",
        Subject::None,
        &[("enabledBy", Plain), ("enabledAt", Plain)],
    ),
    ev(
        "UserErased",
        Subject::None,
        &[("erasedBy", Plain), ("erasedAt", Plain)],
    ),
    // identity: EmailClaim
    ev(
        "EmailClaimed",
        Subject::UserField("userId"),
        &[("email", Personal), ("userId", Plain), ("claimedAt", Plain)],
    ),
    // identity: RefreshFamily
    ev(
        "RefreshFamilyStarted",
        Subject::UserField("userId"),
        &[
            ("familyId", Plain),
            ("userId", Plain),
            ("tokenHash", Secret),
            ("startedAt", Plain),
            ("expiresAt", Plain),
        ],
    ),
    ev(
        "RefreshTokenRotated",
        Subject::None,
        &[
            ("previousHash", Secret),
            ("tokenHash", Secret),
            ("rotatedAt", Plain),
            ("expiresAt", Plain),
        ],
    ),
    ev(
        "RefreshFamilyRevoked",
        Subject::None,
        &[("reason", Plain), ("revokedAt", Plain)],
    ),
    // identity: SmsChallenge
    ev(
        "SmsCodeIssued",
        Subject::PhoneField("phone"),
        &[
            ("phone", Personal),
            ("codeHash", Secret),
            ("issuedAt", Plain),
            ("expiresAt", Plain),
        ],
    ),
    ev("SmsCodeVerified", Subject::None, &[("verifiedAt", Plain)]),
    ev(
        "SmsCodeRejected",
        Subject::None,
        &[("failedAttempts", Plain), ("rejectedAt", Plain)],
    ),
    // identity: WechatAccount
    ev(
        "WechatTokenVerified",
        Subject::WechatField("wechatId"),
        &[
            ("wechatId", Personal),
            ("tokenHash", Secret),
            ("verifiedAt", Plain),
            ("expiresAt", Plain),
        ],
    ),
    // identity: OAuthIdentity (Google and Apple accounts; decision 0031)
    ev(
        "OAuthIdentityLinked",
        Subject::UserField("userId"),
        &[
            ("provider", Plain),
            ("subject", Personal),
            ("userId", Plain),
            ("email", Personal),
            ("emailVerified", Plain),
            ("via", Plain),
            ("linkedAt", Plain),
        ],
    ),
    // shared: IdentifierClaim (phone numbers and WeChat ids)
    ev(
        "IdentifierClaimed",
        Subject::ClaimedIdentifier,
        &[
            ("kind", Plain),
            ("value", Personal),
            ("owner", Plain),
            ("claimedAt", Plain),
        ],
    ),
    ev(
        "IdentifierReleased",
        Subject::None,
        &[("owner", Plain), ("reason", Plain), ("releasedAt", Plain)],
    ),
    // openticket
    ev(
        "OpenTicketVenueCreated",
        Subject::None,
        &[
            ("venueId", Plain),
            ("seatMapId", Plain),
            ("name", Plain),
            ("address", Plain),
            ("capacity", Plain),
            ("areas", Plain),
            ("createdBy", Plain),
            ("createdAt", Plain),
        ],
    ),
    ev(
        "OpenTicketEventCreated",
        Subject::None,
        &[
            ("eventId", Plain),
            ("organizerId", Plain),
            ("name", Plain),
            ("description", Plain),
            ("venueId", Plain),
            ("venueName", Plain),
            ("sessions", Plain),
            ("priceCategories", Plain),
            ("createdAt", Plain),
        ],
    ),
    ev(
        "OpenTicketSessionOpened",
        Subject::None,
        &[
            ("sessionId", Plain),
            ("eventId", Plain),
            ("venueId", Plain),
            ("saleStartTime", Plain),
            ("saleEndTime", Plain),
            ("openedAt", Plain),
        ],
    ),
    ev(
        "OpenTicketSeatsLocked",
        Subject::None,
        &[
            ("lockId", Plain),
            ("userId", Plain),
            ("seatIds", Plain),
            ("lockedAt", Plain),
            ("expiresAt", Plain),
        ],
    ),
    ev(
        "OpenTicketSeatsReleased",
        Subject::None,
        &[
            ("seatIds", Plain),
            ("userId", Plain),
            ("lockId", Plain),
            ("orderId", Plain),
            ("reason", Plain),
            ("releasedAt", Plain),
        ],
    ),
    ev(
        "OpenTicketSeatsHeldForOrder",
        Subject::None,
        &[
            ("orderId", Plain),
            ("userId", Plain),
            ("seatIds", Plain),
            ("heldAt", Plain),
            ("heldUntil", Plain),
        ],
    ),
    ev(
        "OpenTicketSeatsSold",
        Subject::None,
        &[
            ("orderId", Plain),
            ("userId", Plain),
            ("seatIds", Plain),
            ("soldAt", Plain),
        ],
    ),
    ev(
        "OpenTicketOrderPlaced",
        Subject::None,
        &[
            ("orderId", Plain),
            ("userId", Plain),
            ("eventId", Plain),
            ("sessionId", Plain),
            ("items", Plain),
            ("totalAmount", Plain),
            ("payment", Plain),
            ("placedAt", Plain),
            ("expiresAt", Plain),
        ],
    ),
    ev(
        "OpenTicketPaymentSucceeded",
        Subject::None,
        &[
            ("paymentId", Plain),
            ("providerEventId", Plain),
            ("paidAt", Plain),
        ],
    ),
    ev(
        "OpenTicketPaymentFailed",
        Subject::None,
        &[
            ("paymentId", Plain),
            ("providerEventId", Plain),
            ("reason", Plain),
            ("failedAt", Plain),
        ],
    ),
    ev(
        "OpenTicketLatePaymentReceived",
        Subject::None,
        &[
            ("paymentId", Plain),
            ("providerEventId", Plain),
            ("paidAt", Plain),
            ("refundRequired", Plain),
        ],
    ),
    ev(
        "OpenTicketOrderCompleted",
        Subject::None,
        &[("ticketIds", Plain), ("completedAt", Plain)],
    ),
    ev(
        "OpenTicketOrderCancelled",
        Subject::None,
        &[("cancelledBy", Plain), ("cancelledAt", Plain)],
    ),
    ev(
        "OpenTicketOrderExpired",
        Subject::None,
        &[("expiredAt", Plain)],
    ),
    ev(
        "OpenTicketTicketIssued",
        Subject::None,
        &[
            ("ticketId", Plain),
            ("orderId", Plain),
            ("userId", Plain),
            ("eventId", Plain),
            ("sessionId", Plain),
            ("seatId", Plain),
            ("areaId", Plain),
            ("price", Plain),
            ("issuedAt", Plain),
        ],
    ),
    ev(
        "OpenTicketTicketUsed",
        Subject::None,
        &[("verifiedBy", Plain), ("usedAt", Plain)],
    ),
    // meeting
    ev(
        "MeetingCreated",
        Subject::None,
        &[
            ("organizerId", Plain),
            ("title", Plain),
            ("description", Plain),
            ("location", Plain),
            ("startTime", Plain),
            ("endTime", Plain),
            ("createdAt", Plain),
        ],
    ),
    ev(
        "MeetingTicketGradeAdded",
        Subject::None,
        &[
            ("ticketGradeId", Plain),
            ("name", Plain),
            ("priceFen", Plain),
            ("stock", Plain),
            ("addedAt", Plain),
        ],
    ),
    ev(
        "MeetingTicketGradeChanged",
        Subject::None,
        &[
            ("ticketGradeId", Plain),
            ("name", Plain),
            ("priceFen", Plain),
            ("stock", Plain),
            ("changedAt", Plain),
        ],
    ),
    ev("MeetingSalesOpened", Subject::None, &[("openedAt", Plain)]),
    ev("MeetingSalesClosed", Subject::None, &[("closedAt", Plain)]),
    ev(
        "MeetingStockReserved",
        Subject::None,
        &[("orderId", Plain), ("lines", Plain), ("reservedAt", Plain)],
    ),
    ev(
        "MeetingStockReleased",
        Subject::None,
        &[
            ("orderId", Plain),
            ("lines", Plain),
            ("reason", Plain),
            ("releasedAt", Plain),
        ],
    ),
    ev(
        "MeetingStockSold",
        Subject::None,
        &[
            ("orderId", Plain),
            ("lines", Plain),
            ("retaken", Plain),
            ("soldAt", Plain),
        ],
    ),
    ev(
        "MeetingOrderPlaced",
        Subject::None,
        &[
            ("userId", Plain),
            ("meetingId", Plain),
            ("items", Plain),
            ("paymentMethodId", Plain),
            ("totalFen", Plain),
            ("expiresAt", Plain),
            ("placedAt", Plain),
        ],
    ),
    ev(
        "MeetingPaymentRequested",
        Subject::None,
        &[
            ("provider", Plain),
            ("outTradeNo", Plain),
            ("thirdPartyTransactionInfo", Plain),
            ("requestedAt", Plain),
        ],
    ),
    ev(
        "MeetingOrderPaid",
        Subject::None,
        &[
            ("transactionId", Plain),
            ("amountFen", Plain),
            ("late", Plain),
            ("paidAt", Plain),
        ],
    ),
    ev(
        "MeetingOrderCancelled",
        Subject::None,
        &[("cancelledAt", Plain)],
    ),
    ev(
        "MeetingOrderExpired",
        Subject::None,
        &[("expiredAt", Plain)],
    ),
    ev(
        "MeetingOrderRefundRequired",
        Subject::None,
        &[
            ("transactionId", Plain),
            ("amountFen", Plain),
            ("reason", Plain),
            ("recordedAt", Plain),
        ],
    ),
    ev(
        "MeetingTicketsAllocated",
        Subject::None,
        &[("tickets", Plain), ("allocatedAt", Plain)],
    ),
    ev(
        "MeetingTicketIssued",
        Subject::None,
        &[
            ("ticketId", Plain),
            ("orderId", Plain),
            ("meetingId", Plain),
            ("ticketGradeId", Plain),
            ("ownerId", Plain),
            ("issuedAt", Plain),
        ],
    ),
    ev(
        "MeetingParticipantAssigned",
        Subject::UserField("assignedBy"),
        &[
            ("participant", Personal),
            ("assignedBy", Plain),
            ("assignedAt", Plain),
        ],
    ),
    // shop (seed 002): numbers, catalog and products carry no personal data; nickname and contact
    // phone are the shop user's, sealed under the identity user the stream is named after.
    ev(
        "ShopNumberTaken",
        Subject::None,
        &[
            ("kind", Plain),
            ("number", Plain),
            ("assignedTo", Plain),
            ("takenAt", Plain),
        ],
    ),
    ev(
        "ShopCategoryCreated",
        Subject::None,
        &[
            ("categoryId", Plain),
            ("name", Plain),
            ("description", Plain),
            ("parentId", Plain),
            ("createdAt", Plain),
        ],
    ),
    ev(
        "ShopCategoryUpdated",
        Subject::None,
        &[
            ("categoryId", Plain),
            ("name", Plain),
            ("description", Plain),
            ("parentId", Plain),
            ("updatedAt", Plain),
        ],
    ),
    ev(
        "ShopCategoryDeleted",
        Subject::None,
        &[("categoryId", Plain), ("deletedAt", Plain)],
    ),
    ev(
        "ShopProductCreated",
        Subject::None,
        &[
            ("productId", Plain),
            ("categoryId", Plain),
            ("name", Plain),
            ("description", Plain),
            ("price", Plain),
            ("stock", Plain),
            ("imageUrl", Plain),
            ("status", Plain),
            ("createdAt", Plain),
        ],
    ),
    ev(
        "ShopProductUpdated",
        Subject::None,
        &[
            ("productId", Plain),
            ("categoryId", Plain),
            ("name", Plain),
            ("description", Plain),
            ("price", Plain),
            ("imageUrl", Plain),
            ("status", Plain),
            ("updatedAt", Plain),
        ],
    ),
    ev(
        "ShopProductStockSet",
        Subject::None,
        &[("productId", Plain), ("stock", Plain), ("updatedAt", Plain)],
    ),
    ev(
        "ShopProductDeleted",
        Subject::None,
        &[("productId", Plain), ("deletedAt", Plain)],
    ),
    ev(
        "ShopProductStockReserved",
        Subject::None,
        &[
            ("productId", Plain),
            ("orderId", Plain),
            ("quantity", Plain),
            ("stock", Plain),
            ("reservedAt", Plain),
        ],
    ),
    ev(
        "ShopProductStockReleased",
        Subject::None,
        &[
            ("productId", Plain),
            ("orderId", Plain),
            ("quantity", Plain),
            ("reason", Plain),
            ("stock", Plain),
            ("releasedAt", Plain),
        ],
    ),
    // shop orders (issue 11 part 2): ids, amounts, products as bought, payment ids and statuses;
    // the buyer is named by ids only (shop `userId`, identity `accountId`), so nothing is personal.
    ev(
        "ShopOrderPlaced",
        Subject::None,
        &[
            ("orderId", Plain),
            ("userId", Plain),
            ("accountId", Plain),
            ("lines", Plain),
            ("totalAmount", Plain),
            ("paymentMethod", Plain),
            ("expiresAt", Plain),
            ("placedAt", Plain),
        ],
    ),
    ev(
        "ShopOrderPaid",
        Subject::None,
        &[
            ("orderId", Plain),
            ("paymentMethod", Plain),
            ("paymentId", Plain),
            ("amount", Plain),
            ("paidBy", Plain),
            ("channel", Plain),
            ("paidAt", Plain),
        ],
    ),
    ev(
        "ShopOrderPaymentNeedsRefund",
        Subject::None,
        &[
            ("orderId", Plain),
            ("paymentMethod", Plain),
            ("paymentId", Plain),
            ("amount", Plain),
            ("channel", Plain),
            ("reason", Plain),
            ("recordedAt", Plain),
        ],
    ),
    ev(
        "ShopOrderPaymentChanged",
        Subject::None,
        &[
            ("orderId", Plain),
            ("paymentMethod", Plain),
            ("paymentId", Plain),
            ("changedBy", Plain),
            ("changedAt", Plain),
        ],
    ),
    ev(
        "ShopOrderCancelled",
        Subject::None,
        &[
            ("orderId", Plain),
            ("cancelledBy", Plain),
            ("cancelledAt", Plain),
        ],
    ),
    ev(
        "ShopOrderExpired",
        Subject::None,
        &[("orderId", Plain), ("expiredAt", Plain)],
    ),
    ev(
        "ShopOrderRefunded",
        Subject::None,
        &[
            ("orderId", Plain),
            ("refundedBy", Plain),
            ("refundedAt", Plain),
        ],
    ),
    ev(
        "ShopOrderDeleted",
        Subject::None,
        &[
            ("orderId", Plain),
            ("deletedBy", Plain),
            ("deletedAt", Plain),
        ],
    ),
    ev(
        "ShopUserJoined",
        Subject::None,
        &[("userId", Plain), ("accountId", Plain), ("joinedAt", Plain)],
    ),
    ev(
        "ShopUserNicknameChanged",
        Subject::UserStream,
        &[
            ("nickname", Personal),
            ("changedBy", Plain),
            ("changedAt", Plain),
        ],
    ),
    ev(
        "ShopUserPhoneChanged",
        Subject::UserStream,
        &[
            ("phone", Personal),
            ("changedBy", Plain),
            ("changedAt", Plain),
        ],
    ),
    // shop membership cards (seed 002): integer ids, amounts, the acting user's UUID and the
    // admin's free-text description of a transaction about the card, not about a person.
    ev(
        "ShopMembershipCardIssued",
        Subject::None,
        &[
            ("cardId", Plain),
            ("userId", Plain),
            ("cardNumber", Plain),
            ("issuedBy", Plain),
            ("issuedAt", Plain),
        ],
    ),
    ev(
        "ShopMemberTransactionRecorded",
        Subject::None,
        &[
            ("cardId", Plain),
            ("transactionId", Plain),
            ("kind", Plain),
            ("amount", Plain),
            ("balanceAfter", Plain),
            ("description", Plain),
            ("orderId", Plain),
            ("recordedBy", Plain),
            ("recordedAt", Plain),
        ],
    ),
    ev(
        "ShopMembershipCardFrozen",
        Subject::None,
        &[("cardId", Plain), ("frozenBy", Plain), ("frozenAt", Plain)],
    ),
    ev(
        "ShopMembershipCardUnfrozen",
        Subject::None,
        &[
            ("cardId", Plain),
            ("unfrozenBy", Plain),
            ("unfrozenAt", Plain),
        ],
    ),
    ev(
        "ShopMembershipCardClosed",
        Subject::None,
        &[("cardId", Plain), ("closedBy", Plain), ("closedAt", Plain)],
    ),
    ev(
        "ShopMemberCardHeld",
        Subject::None,
        &[("userId", Plain), ("cardId", Plain), ("heldAt", Plain)],
    ),
    ev(
        "ShopMemberCardReleased",
        Subject::None,
        &[("userId", Plain), ("cardId", Plain), ("releasedAt", Plain)],
    ),
    // plans (seed 004): ids, plans, dates and company names; no personal data (members are named
    // by ids, their emails stay with the identity).
    ev(
        "PlansUserAssigned",
        Subject::None,
        &[
            ("userId", Plain),
            ("accountId", Plain),
            ("assignedAt", Plain),
        ],
    ),
    // plans external payments and recharges: ids, amounts, methods, provider references.
    ev(
        "PlansPaymentOpened",
        Subject::None,
        &[
            ("paymentId", Plain),
            ("companyId", Plain),
            ("userId", Plain),
            ("purpose", Plain),
            ("method", Plain),
            ("amountFen", Plain),
            ("outTradeNo", Plain),
            ("codeUrl", Plain),
            ("expiresAt", Plain),
            ("openedAt", Plain),
        ],
    ),
    ev(
        "PlansPaymentSucceeded",
        Subject::None,
        &[
            ("paymentId", Plain),
            ("transactionId", Plain),
            ("amountFen", Plain),
            ("source", Plain),
            ("succeededAt", Plain),
        ],
    ),
    ev(
        "PlansPaymentDelivered",
        Subject::None,
        &[("paymentId", Plain), ("deliveredAt", Plain)],
    ),
    ev(
        "PlansPaymentClosed",
        Subject::None,
        &[("paymentId", Plain), ("reason", Plain), ("closedAt", Plain)],
    ),
    ev(
        "PlansPaymentDeskTaken",
        Subject::None,
        &[("purpose", Plain), ("paymentId", Plain), ("method", Plain)],
    ),
    ev(
        "PlansPaymentDeskReleased",
        Subject::None,
        &[("paymentId", Plain)],
    ),
    ev(
        "PlansRechargeCreated",
        Subject::None,
        &[
            ("rechargeId", Plain),
            ("companyId", Plain),
            ("userId", Plain),
            ("amountFen", Plain),
            ("extraAmountFen", Plain),
            ("discountId", Plain),
            ("offerVersion", Plain),
            ("method", Plain),
            ("paymentId", Plain),
            ("createdAt", Plain),
        ],
    ),
    ev(
        "PlansRechargePaid",
        Subject::None,
        &[
            ("rechargeId", Plain),
            ("paymentId", Plain),
            ("paidAt", Plain),
        ],
    ),
    ev(
        "PlansRechargeExpired",
        Subject::None,
        &[("rechargeId", Plain), ("expiredAt", Plain)],
    ),
    ev(
        "PlansCompanyCreated",
        Subject::None,
        &[
            ("companyId", Plain),
            ("name", Plain),
            ("ownerId", Plain),
            ("ownerAccount", Plain),
            ("createdAt", Plain),
        ],
    ),
    ev(
        "PlansMemberAdded",
        Subject::None,
        &[
            ("userId", Plain),
            ("accountId", Plain),
            ("role", Plain),
            ("addedBy", Plain),
            ("memberLimit", Plain),
            ("addedAt", Plain),
        ],
    ),
    ev(
        "PlansMemberRemoved",
        Subject::None,
        &[
            ("userId", Plain),
            ("removedBy", Plain),
            ("removedAt", Plain),
        ],
    ),
    ev(
        "PlansTrialStarted",
        Subject::None,
        &[
            ("companyId", Plain),
            ("trialId", Plain),
            ("plan", Plain),
            ("userId", Plain),
            ("dateStart", Plain),
            ("dateEnd", Plain),
        ],
    ),
    ev(
        "PlansTrialEnded",
        Subject::None,
        &[
            ("companyId", Plain),
            ("trialId", Plain),
            ("reason", Plain),
            ("endedAt", Plain),
        ],
    ),
    ev(
        "PlansPaidPeriodStarted",
        Subject::None,
        &[
            ("companyId", Plain),
            ("periodId", Plain),
            ("plan", Plain),
            ("memberCount", Plain),
            ("months", Plain),
            ("userId", Plain),
            ("catalogueVersion", Plain),
            ("dateStart", Plain),
            ("dateEnd", Plain),
            ("graceEnd", Plain),
        ],
    ),
    ev(
        "PlansPaidPeriodOverdue",
        Subject::None,
        &[
            ("companyId", Plain),
            ("periodId", Plain),
            ("overdueAt", Plain),
        ],
    ),
    ev(
        "PlansPaidPeriodExpired",
        Subject::None,
        &[
            ("companyId", Plain),
            ("periodId", Plain),
            ("expiredAt", Plain),
        ],
    ),
    // plans orders and wallet (seed 004 "order", "charge"): ids, plans, amounts in fen and
    // dates; a staff grant's `reason` is staff text about the company, not personal data.
    ev(
        "PlansPaidPeriodExtended",
        Subject::None,
        &[
            ("companyId", Plain),
            ("periodId", Plain),
            ("orderId", Plain),
            ("months", Plain),
            ("totalMonths", Plain),
            ("dateEnd", Plain),
            ("graceEnd", Plain),
            ("extendedAt", Plain),
        ],
    ),
    ev(
        "PlansPaidPeriodUpgraded",
        Subject::None,
        &[
            ("companyId", Plain),
            ("periodId", Plain),
            ("orderId", Plain),
            ("plan", Plain),
            ("memberCount", Plain),
            ("upgradedAt", Plain),
        ],
    ),
    ev(
        "PlansPendingOrderSet",
        Subject::None,
        &[
            ("companyId", Plain),
            ("orderId", Plain),
            ("expiresAt", Plain),
        ],
    ),
    ev(
        "PlansPendingOrderCleared",
        Subject::None,
        &[
            ("companyId", Plain),
            ("orderId", Plain),
            ("reason", Plain),
            ("clearedAt", Plain),
        ],
    ),
    ev(
        "PlansDegradeScheduled",
        Subject::None,
        &[
            ("companyId", Plain),
            ("degradeId", Plain),
            ("orderId", Plain),
            ("periodId", Plain),
            ("plan", Plain),
            ("memberCount", Plain),
            ("effectiveAt", Plain),
            ("scheduledAt", Plain),
        ],
    ),
    ev(
        "PlansDegradeCancelled",
        Subject::None,
        &[
            ("companyId", Plain),
            ("degradeId", Plain),
            ("orderId", Plain),
            ("cancelledAt", Plain),
        ],
    ),
    ev(
        "PlansDegradeApplied",
        Subject::None,
        &[
            ("companyId", Plain),
            ("degradeId", Plain),
            ("orderId", Plain),
            ("periodId", Plain),
            ("plan", Plain),
            ("memberCount", Plain),
            ("appliedAt", Plain),
        ],
    ),
    ev(
        "PlansOrderPlaced",
        Subject::None,
        &[
            ("orderId", Plain),
            ("companyId", Plain),
            ("userId", Plain),
            ("orderType", Plain),
            ("plan", Plain),
            ("memberCount", Plain),
            ("months", Plain),
            ("productId", Plain),
            ("productNo", Plain),
            ("productTitle", Plain),
            ("unitPrice", Plain),
            ("amount", Plain),
            ("catalogueVersion", Plain),
            ("periodId", Plain),
            ("proration", Plain),
            ("degradeId", Plain),
            ("effectiveAt", Plain),
            ("status", Plain),
            ("expiresAt", Plain),
            ("placedAt", Plain),
        ],
    ),
    ev(
        "PlansOrderPaid",
        Subject::None,
        &[
            ("orderId", Plain),
            ("companyId", Plain),
            ("paymentMethod", Plain),
            ("paymentId", Plain),
            ("amount", Plain),
            ("periodId", Plain),
            ("paidAt", Plain),
        ],
    ),
    ev(
        "PlansOrderExpired",
        Subject::None,
        &[
            ("orderId", Plain),
            ("companyId", Plain),
            ("expiredAt", Plain),
        ],
    ),
    ev(
        "PlansOrderCancelled",
        Subject::None,
        &[
            ("orderId", Plain),
            ("companyId", Plain),
            ("reason", Plain),
            ("cancelledAt", Plain),
        ],
    ),
    ev(
        "PlansOrderCompleted",
        Subject::None,
        &[
            ("orderId", Plain),
            ("companyId", Plain),
            ("completedAt", Plain),
        ],
    ),
    ev(
        "PlansWalletCredited",
        Subject::None,
        &[
            ("companyId", Plain),
            ("entryId", Plain),
            ("reference", Plain),
            ("kind", Plain),
            ("paidAmount", Plain),
            ("grantedAmount", Plain),
            ("reason", Plain),
            ("paidAfter", Plain),
            ("grantedAfter", Plain),
            ("creditedAt", Plain),
        ],
    ),
    ev(
        "PlansWalletDebited",
        Subject::None,
        &[
            ("companyId", Plain),
            ("entryId", Plain),
            ("orderId", Plain),
            ("amount", Plain),
            ("fromGranted", Plain),
            ("fromPaid", Plain),
            ("paidAfter", Plain),
            ("grantedAfter", Plain),
            ("debitedAt", Plain),
        ],
    ),
    // courtesy (seed 001): numbers, resources and image records carry ids, hashes and sizes; the
    // profile is the account user's personal data, sealed under the identity user the
    // `courtesyAccount-{userId}` stream is named after.
    ev(
        "CourtesyNumberTaken",
        Subject::None,
        &[
            ("kind", Plain),
            ("number", Plain),
            ("assignedTo", Plain),
            ("takenAt", Plain),
        ],
    ),
    ev(
        "CourtesyAccountOpened",
        Subject::None,
        &[("userId", Plain), ("accountId", Plain), ("openedAt", Plain)],
    ),
    ev(
        "CourtesyAccountSignedIn",
        Subject::None,
        &[("sessionId", Plain), ("signedInAt", Plain)],
    ),
    ev(
        "CourtesyProfileEdited",
        Subject::UserStream,
        &[("profile", Personal), ("editedAt", Plain)],
    ),
    ev(
        "CourtesyImageUploaded",
        Subject::None,
        &[
            ("kind", Plain),
            ("imageId", Plain),
            ("sha256", Plain),
            ("size", Plain),
            ("mediaType", Plain),
            ("width", Plain),
            ("height", Plain),
            ("files", Plain),
            ("uploadedAt", Plain),
        ],
    ),
    ev(
        "CourtesyResourceStored",
        Subject::None,
        &[
            ("resourceId", Plain),
            ("sha256", Plain),
            ("size", Plain),
            ("mediaType", Plain),
            ("uploadedBy", Plain),
            ("storedAt", Plain),
        ],
    ),
    // plans certification (seed 004 `auth`, part 2): `contact` holds the applicant's name, phone,
    // ID card number and photo ids, personal with the applicant (`accountId`) as subject; team and
    // enterprise details describe a company (plain); staff reasons are about the application.
    ev(
        "PlansCertificationSubmitted",
        Subject::UserField("accountId"),
        &[
            ("authId", Plain),
            ("companyId", Plain),
            ("plan", Plain),
            ("userId", Plain),
            ("accountId", Plain),
            ("contact", Personal),
            ("team", Plain),
            ("enterprise", Plain),
            ("submittedAt", Plain),
        ],
    ),
    ev(
        "PlansCertificationResubmitted",
        Subject::UserField("accountId"),
        &[
            ("authId", Plain),
            ("companyId", Plain),
            ("userId", Plain),
            ("accountId", Plain),
            ("contact", Personal),
            ("team", Plain),
            ("enterprise", Plain),
            ("resubmittedAt", Plain),
        ],
    ),
    ev(
        "PlansCertificationCancelled",
        Subject::None,
        &[
            ("authId", Plain),
            ("companyId", Plain),
            ("userId", Plain),
            ("cancelledAt", Plain),
        ],
    ),
    ev(
        "PlansCertificationAccepted",
        Subject::None,
        &[
            ("authId", Plain),
            ("companyId", Plain),
            ("plan", Plain),
            ("adminId", Plain),
            ("acceptedAt", Plain),
        ],
    ),
    ev(
        "PlansCertificationRejected",
        Subject::None,
        &[
            ("authId", Plain),
            ("companyId", Plain),
            ("adminId", Plain),
            ("reason", Plain),
            ("rejectedAt", Plain),
        ],
    ),
    ev(
        "PlansCertificationExpired",
        Subject::None,
        &[
            ("authId", Plain),
            ("companyId", Plain),
            ("supersededBy", Plain),
            ("expiredAt", Plain),
        ],
    ),
    ev(
        "PlansCertificationTracked",
        Subject::None,
        &[
            ("companyId", Plain),
            ("authId", Plain),
            ("plan", Plain),
            ("status", Plain),
            ("at", Plain),
        ],
    ),
    // courtesy part 2: QR codes, cards and news carry ids, flags and times; a card's template is
    // its author's words, personal and sealed under the author (`author` field).
    ev(
        "CourtesyQrCodeGenerated",
        Subject::None,
        &[("qrId", Plain), ("channel", Plain), ("generatedAt", Plain)],
    ),
    ev(
        "CourtesyQrCodeScanned",
        Subject::None,
        &[("scannedAt", Plain)],
    ),
    ev(
        "CourtesyQrCodeRecorded",
        Subject::None,
        &[
            ("cardToken", Plain),
            ("author", Plain),
            ("recordedAt", Plain),
        ],
    ),
    ev(
        "CourtesyCardCreated",
        Subject::UserField("author"),
        &[
            ("token", Plain),
            ("qrId", Plain),
            ("author", Plain),
            ("localTemplate", Personal),
            ("isEditable", Plain),
            ("isPublic", Plain),
            ("visibleAt", Plain),
            ("attachments", Plain),
            ("createdAt", Plain),
        ],
    ),
    ev(
        "CourtesyCardViewed",
        Subject::None,
        &[("viewer", Plain), ("viewedAt", Plain)],
    ),
    ev(
        "CourtesyCardFirstRead",
        Subject::None,
        &[("reader", Plain), ("readAt", Plain)],
    ),
    ev(
        "CourtesyCardEdited",
        Subject::UserField("author"),
        &[
            ("author", Plain),
            ("localTemplate", Personal),
            ("isEditable", Plain),
            ("isPublic", Plain),
            ("visibleAt", Plain),
            ("attachments", Plain),
            ("editedAt", Plain),
        ],
    ),
    ev(
        "CourtesyCardBanned",
        Subject::None,
        &[("bannedBy", Plain), ("bannedAt", Plain)],
    ),
    ev(
        "CourtesyNewsPublished",
        Subject::None,
        &[("item", Plain), ("publishedAt", Plain)],
    ),
    // Certification pictures (ID photos, licences): the hash is the only link to the file, so it
    // is personal with the uploading owner as subject; erasing them unlinks the picture.
    ev(
        "PlansCertificationPictureUploaded",
        Subject::UserField("uploadedBy"),
        &[
            ("pictureId", Plain),
            ("companyId", Plain),
            ("plan", Plain),
            ("sha256", Personal),
            ("size", Plain),
            ("mediaType", Plain),
            ("uploadedBy", Plain),
            ("uploadedAt", Plain),
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn each_type_is_listed_once_with_distinct_fields() {
        let mut types = BTreeSet::new();
        for c in REGISTRY {
            assert!(types.insert(c.event_type), "{} twice", c.event_type);
            let names: BTreeSet<&str> = c.fields.iter().map(|(n, _)| *n).collect();
            assert_eq!(names.len(), c.fields.len(), "{}", c.event_type);
        }
    }

    #[test]
    fn events_with_a_subject_name_a_plain_field_or_the_stream() {
        for c in REGISTRY {
            let field = match c.subject {
                Subject::UserField(f) => Some((f, Plain)),
                Subject::PhoneField(f) | Subject::WechatField(f) => Some((f, Personal)),
                Subject::None | Subject::UserStream | Subject::ClaimedIdentifier => None,
            };
            if let Some((f, class)) = field {
                assert_eq!(
                    c.class_of(f),
                    Some(class),
                    "{}: subject field {f}",
                    c.event_type
                );
            }
            let sealed = c.fields.iter().any(|(_, k)| *k == Personal);
            if sealed {
                assert_ne!(
                    c.subject,
                    Subject::None,
                    "{}: personal without subject",
                    c.event_type
                );
            }
        }
    }

    #[test]
    fn subjects_do_not_show_the_identifier() {
        assert!(!phone_subject("13800138000").contains("13800138000"));
        assert_eq!(phone_subject("13800138000"), phone_subject(" 13800138000 "));
        assert!(!wechat_subject("o-abc").contains("o-abc"));
    }
}
