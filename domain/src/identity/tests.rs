//! Given/when/then tests of the identity deciders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::testing::given;
use crate::{Decider, DomainEvent, UserId};
use chrono::TimeZone;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeSet;
use uuid::Uuid;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 20, 10, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

fn uid(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

// --- value types -----------------------------------------------------------------------

#[test]
fn emails_are_trimmed_and_lower_cased() {
    assert_eq!(email("  Ann@Example.COM ").as_str(), "ann@example.com");
    assert_eq!(
        Email::parse(&format!("{}@example.com", "a".repeat(242)))
            .unwrap()
            .as_str()
            .len(),
        254
    );
}

#[test]
fn malformed_emails_are_refused() {
    assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    for bad in [
        "plain",
        "@example.com",
        "ann@",
        "ann@localhost",
        "ann@@example.com",
        "a@b@example.com",
        "ann@.example.com",
        "ann@example.com.",
        "ann@example..com",
        "an n@example.com",
    ] {
        assert!(
            matches!(Email::parse(bad), Err(EmailError::Malformed(_))),
            "{bad}"
        );
    }
    assert_eq!(
        Email::parse(&format!("{}@example.com", "a".repeat(250))),
        Err(EmailError::TooLong { max: 254 })
    );
}

#[test]
fn emails_deserialise_through_parse() {
    let e: Email = serde_json::from_value(json!("Ann@Example.com")).unwrap();
    assert_eq!(e.as_str(), "ann@example.com");
    assert!(serde_json::from_value::<Email>(json!("nope")).is_err());
    assert_eq!(serde_json::to_value(&e).unwrap(), json!("ann@example.com"));
}

#[test]
fn email_stream_is_uuid_v5_of_the_mailto_url() {
    let e = email("Ann@Example.com");
    let expected = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"mailto:ann@example.com");
    assert_eq!(email_claim_id(&e), expected);
    assert_eq!(email_stream_id(&e), format!("userEmail-{expected}"));
    assert_eq!(email_claim_id(&e).get_version_num(), 5);
    assert_ne!(
        email_stream_id(&e),
        email_stream_id(&email("bob@example.com"))
    );
}

#[test]
fn roles_parse_and_serialise_lower_case() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        assert_eq!(serde_json::to_value(role).unwrap(), json!(role.as_str()));
    }
    assert_eq!(" Admin ".parse::<Role>(), Ok(Role::Admin));
    assert_eq!("root".parse::<Role>(), Err(UnknownRole("root".into())));
    assert!(serde_json::from_value::<Role>(json!("Admin")).is_err());
}

// --- User ------------------------------------------------------------------------------

fn registered(roles: &[Role]) -> UserEvent {
    UserEvent::UserRegistered {
        user_id: uid(1),
        email: email("ann@example.com"),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into(),
        display_name: Some("Ann".into()),
        roles: roles.iter().copied().collect(),
        registered_at: t(0),
    }
}

#[test]
fn registering_adds_the_customer_role() {
    given::<User>([])
        .when(UserCommand::RegisterUser {
            user_id: uid(1),
            email: email("ann@example.com"),
            password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into(),
            display_name: Some("Ann".into()),
            roles: BTreeSet::new(),
            now: t(0),
        })
        .then([registered(&[Role::Customer])]);
}

#[test]
fn registering_twice_is_refused() {
    given::<User>([registered(&[Role::Customer])])
        .when(UserCommand::RegisterUser {
            user_id: uid(1),
            email: email("ann@example.com"),
            password_hash: "x".into(),
            display_name: None,
            roles: BTreeSet::new(),
            now: t(1),
        })
        .then_err(UserError::AlreadyRegistered);
}

#[test]
fn state_after_registration() {
    let user = User::replay(&[registered(&[Role::Organizer])]);
    assert!(user.is_registered());
    assert_eq!(user.user_id(), Some(uid(1)));
    assert_eq!(user.email(), Some(&email("ann@example.com")));
    assert_eq!(user.display_name(), Some("Ann"));
    assert_eq!(user.registered_at(), Some(t(0)));
    assert!(user.has_role(Role::Customer), "customer is implied");
    assert!(user.has_role(Role::Organizer));
    assert!(!user.is_disabled());
}

#[test]
fn changing_the_password() {
    given::<User>([registered(&[Role::Customer])])
        .when(UserCommand::ChangePassword {
            password_hash: "new".into(),
            now: t(5),
        })
        .then([UserEvent::PasswordChanged {
            password_hash: "new".into(),
            changed_at: t(5),
        }]);
    let user = User::replay(&[
        registered(&[Role::Customer]),
        UserEvent::PasswordChanged {
            password_hash: "new".into(),
            changed_at: t(5),
        },
    ]);
    assert_eq!(user.password_hash(), Some("new"));
    given::<User>([])
        .when(UserCommand::ChangePassword {
            password_hash: "new".into(),
            now: t(5),
        })
        .then_err(UserError::NotRegistered);
}

#[test]
fn granting_a_role() {
    given::<User>([registered(&[Role::Customer])])
        .when(UserCommand::GrantRole {
            role: Role::Staff,
            by: Some(uid(9)),
            now: t(3),
        })
        .then([UserEvent::RoleGranted {
            role: Role::Staff,
            granted_by: Some(uid(9)),
            granted_at: t(3),
        }]);
}

#[test]
fn granting_a_held_role_changes_nothing() {
    given::<User>([registered(&[Role::Customer, Role::Admin])])
        .when(UserCommand::GrantRole {
            role: Role::Admin,
            by: None,
            now: t(3),
        })
        .then([]);
}

#[test]
fn granting_to_an_unknown_or_disabled_user_is_refused() {
    given::<User>([])
        .when(UserCommand::GrantRole {
            role: Role::Admin,
            by: None,
            now: t(3),
        })
        .then_err(UserError::NotRegistered);
    given::<User>([
        registered(&[Role::Customer]),
        UserEvent::UserDisabled {
            disabled_by: None,
            disabled_at: t(1),
        },
    ])
    .when(UserCommand::GrantRole {
        role: Role::Admin,
        by: None,
        now: t(3),
    })
    .then_err(UserError::Disabled);
}

#[test]
fn revoking_a_role() {
    given::<User>([registered(&[Role::Customer, Role::Auditor])])
        .when(UserCommand::RevokeRole {
            role: Role::Auditor,
            by: None,
            now: t(4),
        })
        .then([UserEvent::RoleRevoked {
            role: Role::Auditor,
            revoked_by: None,
            revoked_at: t(4),
        }]);
    let user = User::replay(&[
        registered(&[Role::Auditor]),
        UserEvent::RoleRevoked {
            role: Role::Auditor,
            revoked_by: None,
            revoked_at: t(4),
        },
    ]);
    assert_eq!(user.roles(), &BTreeSet::from([Role::Customer]));
}

#[test]
fn revoking_a_role_not_held_changes_nothing() {
    given::<User>([registered(&[Role::Customer])])
        .when(UserCommand::RevokeRole {
            role: Role::Admin,
            by: None,
            now: t(4),
        })
        .then([]);
}

#[test]
fn customer_cannot_be_revoked() {
    given::<User>([registered(&[Role::Customer])])
        .when(UserCommand::RevokeRole {
            role: Role::Customer,
            by: None,
            now: t(4),
        })
        .then_err(UserError::CustomerRoleIsPermanent);
    given::<User>([])
        .when(UserCommand::RevokeRole {
            role: Role::Admin,
            by: None,
            now: t(4),
        })
        .then_err(UserError::NotRegistered);
}

#[test]
fn disabling_a_user_once() {
    let disabled = UserEvent::UserDisabled {
        disabled_by: Some(uid(9)),
        disabled_at: t(6),
    };
    given::<User>([registered(&[Role::Customer])])
        .when(UserCommand::DisableUser {
            by: Some(uid(9)),
            now: t(6),
        })
        .then([disabled.clone()]);
    given::<User>([registered(&[Role::Customer]), disabled.clone()])
        .when(UserCommand::DisableUser {
            by: None,
            now: t(7),
        })
        .then([]);
    given::<User>([registered(&[Role::Customer]), disabled])
        .when(UserCommand::ChangePassword {
            password_hash: "x".into(),
            now: t(7),
        })
        .then_err(UserError::Disabled);
    given::<User>([])
        .when(UserCommand::DisableUser {
            by: None,
            now: t(7),
        })
        .then_err(UserError::NotRegistered);
}

#[test]
fn user_events_round_trip_in_catalog_shape() {
    let events = [
        registered(&[Role::Customer, Role::Admin]),
        UserEvent::PasswordChanged {
            password_hash: "p".into(),
            changed_at: t(1),
        },
        UserEvent::RoleGranted {
            role: Role::Staff,
            granted_by: None,
            granted_at: t(2),
        },
        UserEvent::RoleRevoked {
            role: Role::Staff,
            revoked_by: Some(uid(9)),
            revoked_at: t(3),
        },
        UserEvent::UserDisabled {
            disabled_by: None,
            disabled_at: t(4),
        },
    ];
    for event in &events {
        let (ty, data) = event.to_stored().unwrap();
        assert_eq!(&UserEvent::from_stored(&ty, &data).unwrap(), event);
    }
    let (ty, data) = events[0].to_stored().unwrap();
    assert_eq!(ty, "UserRegistered");
    assert_eq!(
        data,
        json!({
            "userId": "00000000-0000-0000-0000-000000000001",
            "email": "ann@example.com",
            "passwordHash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
            "displayName": "Ann",
            "roles": ["customer", "admin"],
            "registeredAt": "2025-01-20T10:00:00Z",
        })
    );
    let (ty, data) = events[2].to_stored().unwrap();
    assert_eq!(ty, "RoleGranted");
    assert_eq!(
        data,
        json!({"role": "staff", "grantedBy": null, "grantedAt": "2025-01-20T10:00:02Z"})
    );
    let (_, data) = events[3].to_stored().unwrap();
    assert_eq!(
        data["revokedBy"],
        json!("00000000-0000-0000-0000-000000000009")
    );
    let (ty, data) = events[4].to_stored().unwrap();
    assert_eq!(ty, "UserDisabled");
    assert_eq!(
        data,
        json!({"disabledBy": null, "disabledAt": "2025-01-20T10:00:04Z"})
    );
    let (ty, data) = events[1].to_stored().unwrap();
    assert_eq!(ty, "PasswordChanged");
    assert_eq!(
        data,
        json!({"passwordHash": "p", "changedAt": "2025-01-20T10:00:01Z"})
    );
}

// --- EmailClaim ------------------------------------------------------------------------

fn claimed(user: u128) -> EmailClaimEvent {
    EmailClaimEvent::EmailClaimed {
        email: email("ann@example.com"),
        user_id: uid(user),
        claimed_at: t(0),
    }
}

fn claim(user: u128) -> ClaimEmail {
    ClaimEmail {
        email: email("ann@example.com"),
        user_id: uid(user),
        now: t(0),
    }
}

#[test]
fn claiming_a_free_address() {
    given::<EmailClaim>([]).when(claim(1)).then([claimed(1)]);
    let state = EmailClaim::replay(&[claimed(1)]);
    assert_eq!(state.user_id(), Some(uid(1)));
    assert_eq!(state.email(), Some(&email("ann@example.com")));
    assert_eq!(state.claimed_at(), Some(t(0)));
}

#[test]
fn claiming_an_address_held_by_another_is_refused() {
    given::<EmailClaim>([claimed(1)])
        .when(claim(2))
        .then_err(EmailClaimError::EmailTaken);
}

#[test]
fn claiming_again_for_the_same_user_changes_nothing() {
    given::<EmailClaim>([claimed(1)]).when(claim(1)).then([]);
}

#[test]
fn the_first_claim_stands() {
    let state = EmailClaim::replay(&[claimed(1), claimed(2)]);
    assert_eq!(state.user_id(), Some(uid(1)));
}

#[test]
fn email_claim_round_trips_in_catalog_shape() {
    let event = claimed(1);
    let (ty, data) = event.to_stored().unwrap();
    assert_eq!(ty, "EmailClaimed");
    assert_eq!(
        data,
        json!({
            "email": "ann@example.com",
            "userId": "00000000-0000-0000-0000-000000000001",
            "claimedAt": "2025-01-20T10:00:00Z",
        })
    );
    assert_eq!(EmailClaimEvent::from_stored(&ty, &data).unwrap(), event);
}

// --- RefreshFamily ---------------------------------------------------------------------

const FAMILY: u128 = 77;

fn started() -> RefreshFamilyEvent {
    RefreshFamilyEvent::RefreshFamilyStarted {
        family_id: Uuid::from_u128(FAMILY),
        user_id: uid(1),
        token_hash: "h1".into(),
        started_at: t(0),
        expires_at: t(100),
    }
}

fn rotated(from: &str, to: &str, at: i64) -> RefreshFamilyEvent {
    RefreshFamilyEvent::RefreshTokenRotated {
        previous_hash: from.into(),
        token_hash: to.into(),
        rotated_at: t(at),
        expires_at: t(at + 100),
    }
}

fn rotate(presented: &str, new: &str, at: i64) -> RefreshFamilyCommand {
    RefreshFamilyCommand::Rotate {
        presented_hash: presented.into(),
        new_hash: new.into(),
        now: t(at),
        expires_at: t(at + 100),
    }
}

#[test]
fn starting_a_family() {
    given::<RefreshFamily>([])
        .when(RefreshFamilyCommand::Start {
            family_id: Uuid::from_u128(FAMILY),
            user_id: uid(1),
            token_hash: "h1".into(),
            now: t(0),
            expires_at: t(100),
        })
        .then([started()]);
    given::<RefreshFamily>([started()])
        .when(RefreshFamilyCommand::Start {
            family_id: Uuid::from_u128(FAMILY),
            user_id: uid(1),
            token_hash: "h9".into(),
            now: t(0),
            expires_at: t(100),
        })
        .then_err(RefreshFamilyError::AlreadyStarted);
    let state = RefreshFamily::replay(&[started()]);
    assert_eq!(state.family_id(), Some(Uuid::from_u128(FAMILY)));
    assert_eq!(state.user_id(), Some(uid(1)));
    assert_eq!(state.expires_at(), Some(t(100)));
    assert!(state.knows_hash("h1") && !state.knows_hash("h2"));
}

#[test]
fn rotating_the_current_token() {
    given::<RefreshFamily>([started()])
        .when(rotate("h1", "h2", 10))
        .then([rotated("h1", "h2", 10)]);
    given::<RefreshFamily>([started(), rotated("h1", "h2", 10)])
        .when(rotate("h2", "h3", 20))
        .then([rotated("h2", "h3", 20)]);
}

#[test]
fn presenting_a_rotated_token_revokes_the_family() {
    given::<RefreshFamily>([started(), rotated("h1", "h2", 10)])
        .when(rotate("h1", "h3", 20))
        .then([RefreshFamilyEvent::RefreshFamilyRevoked {
            reason: RevokeReason::Reuse,
            revoked_at: t(20),
        }]);
}

#[test]
fn after_reuse_even_the_newest_token_is_refused() {
    given::<RefreshFamily>([
        started(),
        rotated("h1", "h2", 10),
        RefreshFamilyEvent::RefreshFamilyRevoked {
            reason: RevokeReason::Reuse,
            revoked_at: t(20),
        },
    ])
    .when(rotate("h2", "h3", 21))
    .then_err(RefreshFamilyError::Revoked);
}

#[test]
fn expired_unknown_and_unstarted_tokens_are_refused() {
    given::<RefreshFamily>([started()])
        .when(rotate("h1", "h2", 100))
        .then_err(RefreshFamilyError::Expired);
    given::<RefreshFamily>([started(), rotated("h1", "h2", 10)])
        .when(rotate("h2", "h3", 109))
        .then([rotated("h2", "h3", 109)]);
    given::<RefreshFamily>([started()])
        .when(rotate("zz", "h2", 10))
        .then_err(RefreshFamilyError::UnknownToken);
    given::<RefreshFamily>([])
        .when(rotate("h1", "h2", 10))
        .then_err(RefreshFamilyError::NotStarted);
}

#[test]
fn logging_out_revokes_once() {
    let revoked = RefreshFamilyEvent::RefreshFamilyRevoked {
        reason: RevokeReason::Logout,
        revoked_at: t(5),
    };
    given::<RefreshFamily>([started()])
        .when(RefreshFamilyCommand::Revoke {
            reason: RevokeReason::Logout,
            now: t(5),
        })
        .then([revoked.clone()]);
    given::<RefreshFamily>([started(), revoked.clone()])
        .when(RefreshFamilyCommand::Revoke {
            reason: RevokeReason::Logout,
            now: t(6),
        })
        .then([]);
    given::<RefreshFamily>([started(), revoked.clone()])
        .when(rotate("h1", "h2", 6))
        .then_err(RefreshFamilyError::Revoked);
    given::<RefreshFamily>([])
        .when(RefreshFamilyCommand::Revoke {
            reason: RevokeReason::Logout,
            now: t(6),
        })
        .then_err(RefreshFamilyError::NotStarted);
    assert_eq!(
        RefreshFamily::replay(&[started(), revoked]).revoked(),
        Some(RevokeReason::Logout)
    );
}

#[test]
fn refresh_family_events_round_trip_in_catalog_shape() {
    let events = [
        started(),
        rotated("h1", "h2", 10),
        RefreshFamilyEvent::RefreshFamilyRevoked {
            reason: RevokeReason::Reuse,
            revoked_at: t(20),
        },
    ];
    for event in &events {
        let (ty, data) = event.to_stored().unwrap();
        assert_eq!(&RefreshFamilyEvent::from_stored(&ty, &data).unwrap(), event);
    }
    assert_eq!(
        events[0].to_stored().unwrap(),
        (
            "RefreshFamilyStarted".to_owned(),
            json!({
                "familyId": "00000000-0000-0000-0000-00000000004d",
                "userId": "00000000-0000-0000-0000-000000000001",
                "tokenHash": "h1",
                "startedAt": "2025-01-20T10:00:00Z",
                "expiresAt": "2025-01-20T10:01:40Z",
            })
        )
    );
    assert_eq!(
        events[1].to_stored().unwrap(),
        (
            "RefreshTokenRotated".to_owned(),
            json!({
                "previousHash": "h1",
                "tokenHash": "h2",
                "rotatedAt": "2025-01-20T10:00:10Z",
                "expiresAt": "2025-01-20T10:01:50Z",
            })
        )
    );
    assert_eq!(
        events[2].to_stored().unwrap(),
        (
            "RefreshFamilyRevoked".to_owned(),
            json!({"reason": "reuse", "revokedAt": "2025-01-20T10:00:20Z"})
        )
    );
}

#[test]
fn enabling_lets_a_disabled_user_back_in() {
    let disabled = UserEvent::UserDisabled {
        disabled_by: None,
        disabled_at: t(6),
    };
    let enabled = UserEvent::UserEnabled {
        enabled_by: Some(uid(9)),
        enabled_at: t(7),
    };
    given::<User>([registered(&[Role::Customer]), disabled.clone()])
        .when(UserCommand::EnableUser {
            by: Some(uid(9)),
            now: t(7),
        })
        .then([enabled.clone()]);
    given::<User>([registered(&[Role::Customer])])
        .when(UserCommand::EnableUser {
            by: None,
            now: t(7),
        })
        .then([]);
    let user = User::replay(&[registered(&[Role::Customer]), disabled, enabled]);
    assert!(!user.is_disabled());
}

#[test]
fn an_erased_user_stays_disabled_for_good() {
    let erased = UserEvent::UserErased {
        erased_by: None,
        erased_at: t(8),
    };
    given::<User>([registered(&[Role::Customer])])
        .when(UserCommand::EraseUser {
            by: None,
            now: t(8),
        })
        .then([erased.clone()]);
    given::<User>([registered(&[Role::Customer]), erased.clone()])
        .when(UserCommand::EraseUser {
            by: None,
            now: t(9),
        })
        .then([]);
    given::<User>([registered(&[Role::Customer]), erased.clone()])
        .when(UserCommand::EnableUser {
            by: None,
            now: t(9),
        })
        .then_err(UserError::Erased);
    given::<User>([registered(&[Role::Customer]), erased.clone()])
        .when(UserCommand::ChangePassword {
            password_hash: "$argon2id$x".into(),
            now: t(9),
        })
        .then_err(UserError::Erased);
    given::<User>([])
        .when(UserCommand::EraseUser {
            by: None,
            now: t(8),
        })
        .then_err(UserError::NotRegistered);
    let user = User::replay(&[registered(&[Role::Customer]), erased]);
    assert!(user.is_disabled() && user.is_erased());
}

#[test]
fn erased_history_still_replays() {
    let stored = serde_json::json!({
        "type": "UserRegistered",
        "data": {
            "userId": uid(1).to_string(),
            "email": "[erased]",
            "passwordHash": "[erased]",
            "displayName": "[erased]",
            "roles": ["customer"],
            "registeredAt": "2026-01-01T00:00:00Z"
        }
    });
    let event: UserEvent = serde_json::from_value(stored).unwrap();
    let user = User::replay(&[event]);
    assert!(user.email().unwrap().is_erased());
    assert!(Email::parse("[erased]").is_err());
}
