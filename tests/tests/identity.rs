//! Identity over the real event stores (SQLite and PostgreSQL): registration with the email guard
//! stream, sign-in, refresh-token rotation and reuse detection, sign-out, roles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use std::sync::{Arc, Mutex};
use tessera_application::identity::{
    AccessTokens, IdentityError, IdentityService, TOKEN_TYPE, TokenError,
};
use tessera_application::{
    AppendRequest, Clock, EventMetadata, EventStore, ExpectedVersion, RecordedEvent, StreamId,
};
use tessera_domain::UserId;
use tessera_domain::identity::{Email, Role, email_stream_id};
use tessera_infrastructure::identity::auth::{
    Argon2PasswordHasher, JwtAccessTokens, RandomSecrets,
};
use tessera_tests::{Suite, TestDb, new_event};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case(
            "register_login_refresh_reuse_and_logout",
            register_login_refresh_reuse_and_logout,
        )
        .case("refresh_tokens_expire_by_the_clock", refresh_tokens_expire)
        .case(
            "concurrent_registrations_of_one_email_admit_one",
            concurrent_registrations,
        )
        .case(
            "a_claim_without_its_user_is_completed_by_a_retry",
            orphaned_claim,
        )
        .case("roles_are_granted_and_revoked", roles_granted_and_revoked)
        .case("disabled_users_cannot_sign_in", disabled_users)
        .case("create_admin_registers_or_promotes", create_admin)
        .run()
}

/// A clock the test moves by hand.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(
            Utc.with_ymd_and_hms(2025, 1, 20, 10, 0, 0).unwrap(),
        )))
    }

    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

struct Fixture {
    service: IdentityService,
    store: Arc<dyn EventStore>,
    clock: Arc<TestClock>,
    tokens: Arc<JwtAccessTokens>,
}

async fn fixture(db: &TestDb) -> Fixture {
    let (_db, stores) = db.stores().await;
    let store = stores.events;
    let clock = TestClock::new();
    let tokens = Arc::new(
        JwtAccessTokens::new(b"integration-test-secret-of-32-bytes!")
            .unwrap()
            .with_ttl_secs(3600)
            .unwrap(),
    );
    // Cheap Argon2 costs: these tests are about the flows, not the hash strength.
    let hasher = Arc::new(Argon2PasswordHasher::with_params(64, 1, 1).unwrap());
    let service = IdentityService::new(
        store.clone(),
        clock.clone(),
        hasher,
        tokens.clone(),
        Arc::new(RandomSecrets),
    )
    .with_metadata(EventMetadata {
        request_id: Some("identity-test".into()),
        ..Default::default()
    });
    Fixture {
        service,
        store,
        clock,
        tokens,
    }
}

async fn stream_events(store: &dyn EventStore, stream: &str) -> Vec<RecordedEvent> {
    store
        .read_stream(&StreamId::parse(stream).unwrap(), 1, 1000)
        .await
        .unwrap_or_default()
}

async fn all_events(store: &dyn EventStore) -> Vec<RecordedEvent> {
    store.read_all(0, 100_000).await.unwrap()
}

async fn register_login_refresh_reuse_and_logout(db: Arc<TestDb>) {
    let f = fixture(&db).await;
    let s = &f.service;

    // Arrange: validation first, then a registration.
    assert!(matches!(
        s.register("not-an-email", "password-1", None).await,
        Err(IdentityError::Validation { field: "email", .. })
    ));
    assert!(matches!(
        s.register("ann@example.com", "short", None).await,
        Err(IdentityError::Validation {
            field: "password",
            ..
        })
    ));
    let ann = s
        .register(" Ann@Example.com ", "password-1", Some(" Ann "))
        .await
        .unwrap();
    assert_eq!(
        ann.email.as_ref().map(|e| e.as_str()),
        Some("ann@example.com")
    );
    assert_eq!(ann.display_name.as_deref(), Some("Ann"));
    assert_eq!(ann.roles, vec![Role::Customer]);
    assert!(!ann.disabled);
    assert_eq!(ann.registered_at, f.clock.now());
    assert!(matches!(
        s.register("ANN@example.com", "password-2", None).await,
        Err(IdentityError::EmailTaken)
    ));
    assert_eq!(s.user(ann.user_id).await.unwrap(), ann);
    assert_eq!(s.user_by_email("ann@EXAMPLE.com").await.unwrap(), ann);
    assert!(matches!(
        s.user_by_email("nobody@example.com").await,
        Err(IdentityError::NotFound)
    ));

    // The stored events follow the catalog, with nothing secret in clear.
    let user_stream = format!("user-{}", ann.user_id);
    let stored = stream_events(f.store.as_ref(), &user_stream).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event_type, "UserRegistered");
    let data = &stored[0].data;
    assert_eq!(data["userId"], json!(ann.user_id.to_string()));
    assert_eq!(data["email"], json!("ann@example.com"));
    assert_eq!(data["displayName"], json!("Ann"));
    assert_eq!(data["roles"], json!(["customer"]));
    assert_eq!(data["registeredAt"], json!("2025-01-20T10:00:00Z"));
    assert!(
        data["passwordHash"]
            .as_str()
            .unwrap()
            .starts_with("$argon2id$")
    );
    assert!(!data.to_string().contains("password-1"));
    assert_eq!(
        stored[0].metadata.request_id.as_deref(),
        Some("identity-test")
    );
    let claim = stream_events(
        f.store.as_ref(),
        &email_stream_id(&Email::parse("ann@example.com").unwrap()),
    )
    .await;
    assert_eq!(claim.len(), 1);
    assert_eq!(claim[0].event_type, "EmailClaimed");
    assert_eq!(claim[0].data["userId"], json!(ann.user_id.to_string()));

    // Sign-in: all failures look alike.
    for (email, password) in [
        ("ann@example.com", "wrong-password"),
        ("nobody@example.com", "password-1"),
        ("garbage", "password-1"),
    ] {
        assert!(
            matches!(
                s.login(email, password).await,
                Err(IdentityError::InvalidCredentials)
            ),
            "{email}"
        );
    }
    let first = s.login("ANN@example.com", "password-1").await.unwrap();
    assert_eq!(first.token_type, TOKEN_TYPE);
    assert_eq!(first.expires_in, 3600);
    assert_eq!(first.user, ann);
    let claims = s.verify_access_token(&first.access_token).unwrap();
    assert_eq!(claims.user_id, ann.user_id);
    assert_eq!(claims.roles, vec![Role::Customer]);
    let (family, _) = first.refresh_token.split_once('.').unwrap();
    let family_stream = format!("refreshFamily-{family}");
    let stored = stream_events(f.store.as_ref(), &family_stream).await;
    assert_eq!(stored[0].event_type, "RefreshFamilyStarted");
    assert_eq!(stored[0].data["userId"], json!(ann.user_id.to_string()));
    assert_eq!(
        stored[0].data["tokenHash"].as_str().unwrap().len(),
        64,
        "SHA-256 hex"
    );
    assert!(!stored[0].data.to_string().contains(&first.refresh_token));

    // Rotation: each token works once, and a new one comes back.
    f.clock.advance(chrono::Duration::minutes(5));
    let second = s.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert!(second.refresh_token.starts_with(&format!("{family}.")));
    assert_eq!(
        f.tokens
            .verify(&second.access_token, f.clock.now())
            .unwrap()
            .user_id,
        ann.user_id
    );
    let third = s.refresh(&second.refresh_token).await.unwrap();

    // Reuse of an older token revokes the family: even the newest token fails afterwards.
    assert!(matches!(
        s.refresh(&first.refresh_token).await,
        Err(IdentityError::RefreshTokenReused)
    ));
    assert!(matches!(
        s.refresh(&third.refresh_token).await,
        Err(IdentityError::InvalidRefreshToken)
    ));
    let stored = stream_events(f.store.as_ref(), &family_stream).await;
    let types: Vec<&str> = stored.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "RefreshFamilyStarted",
            "RefreshTokenRotated",
            "RefreshTokenRotated",
            "RefreshFamilyRevoked"
        ]
    );
    assert_eq!(stored[3].data["reason"], json!("reuse"));
    assert_eq!(stored[1].data["previousHash"], stored[0].data["tokenHash"]);

    // Garbage and forged tokens.
    for bad in [
        "".to_owned(),
        "no-dot".to_owned(),
        format!("{family}.forged"),
        format!("{}.x", uuid::Uuid::now_v7()),
    ] {
        assert!(
            matches!(
                s.refresh(&bad).await,
                Err(IdentityError::InvalidRefreshToken)
            ),
            "{bad}"
        );
    }

    // Sign-out revokes a fresh session; signing out twice is fine.
    let session = s.login("ann@example.com", "password-1").await.unwrap();
    let rotated = s.refresh(&session.refresh_token).await.unwrap();
    s.logout(&rotated.refresh_token).await.unwrap();
    s.logout(&rotated.refresh_token).await.unwrap();
    assert!(matches!(
        s.refresh(&rotated.refresh_token).await,
        Err(IdentityError::InvalidRefreshToken)
    ));
    assert!(matches!(
        s.logout("not-a-token").await,
        Err(IdentityError::InvalidRefreshToken)
    ));
    let (family, _) = rotated.refresh_token.split_once('.').unwrap();
    let stored = stream_events(f.store.as_ref(), &format!("refreshFamily-{family}")).await;
    let last = stored.last().unwrap();
    assert_eq!(last.event_type, "RefreshFamilyRevoked");
    assert_eq!(last.data["reason"], json!("logout"));
    assert_eq!(stored.len(), 3, "the second sign-out wrote nothing");
}

async fn refresh_tokens_expire(db: Arc<TestDb>) {
    let f = fixture(&db).await;
    let s = f
        .service
        .clone()
        .with_refresh_ttl(chrono::Duration::hours(1));
    s.register("bob@example.com", "password-1", None)
        .await
        .unwrap();
    let pair = s.login("bob@example.com", "password-1").await.unwrap();

    // The lifetime slides with each rotation ...
    f.clock.advance(chrono::Duration::minutes(50));
    let pair = s.refresh(&pair.refresh_token).await.unwrap();
    f.clock.advance(chrono::Duration::minutes(50));
    let pair = s.refresh(&pair.refresh_token).await.unwrap();

    // ... and the access token expires by the same clock.
    assert!(s.verify_access_token(&pair.access_token).is_ok());
    f.clock.advance(chrono::Duration::hours(1));
    assert_eq!(
        s.verify_access_token(&pair.access_token),
        Err(TokenError::Expired)
    );
    assert!(matches!(
        s.refresh(&pair.refresh_token).await,
        Err(IdentityError::InvalidRefreshToken)
    ));
}

async fn concurrent_registrations(db: Arc<TestDb>) {
    let f = fixture(&db).await;
    let service = Arc::new(f.service.clone());
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let service = service.clone();
            tokio::spawn(async move {
                service
                    .register("race@example.com", &format!("password-{i:02}"), None)
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut taken = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(view) => winners.push((i, view)),
            Err(IdentityError::EmailTaken) => taken += 1,
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one registration wins");
    assert_eq!(taken, 15);
    let (winner, view) = &winners[0];

    let registered: Vec<RecordedEvent> = all_events(f.store.as_ref())
        .await
        .into_iter()
        .filter(|e| e.event_type == "UserRegistered" && e.data["email"] == "race@example.com")
        .collect();
    assert_eq!(registered.len(), 1);
    assert_eq!(
        registered[0].stream_id.as_str(),
        format!("user-{}", view.user_id)
    );
    let claims = all_events(f.store.as_ref())
        .await
        .into_iter()
        .filter(|e| e.event_type == "EmailClaimed")
        .count();
    assert_eq!(claims, 1);

    // The winner's password is the one that signs in.
    let pair = service
        .login("race@example.com", &format!("password-{winner:02}"))
        .await
        .unwrap();
    assert_eq!(pair.user.user_id, view.user_id);
}

async fn orphaned_claim(db: Arc<TestDb>) {
    let f = fixture(&db).await;
    let s = &f.service;
    // A registration that stored its claim and then died before writing the user stream.
    let email = Email::parse("carol@example.com").unwrap();
    let orphan = UserId::from_uuid(uuid::Uuid::now_v7());
    f.store
        .append(AppendRequest::new(
            StreamId::parse(email_stream_id(&email)).unwrap(),
            ExpectedVersion::NoStream,
            vec![new_event(
                "EmailClaimed",
                json!({
                    "email": "carol@example.com",
                    "userId": orphan.to_string(),
                    "claimedAt": "2025-01-20T09:59:59Z",
                }),
            )],
        ))
        .await
        .unwrap();
    assert!(matches!(
        s.user_by_email("carol@example.com").await,
        Err(IdentityError::NotFound)
    ));
    assert!(matches!(
        s.login("carol@example.com", "password-1").await,
        Err(IdentityError::InvalidCredentials)
    ));

    // The retry completes the registration under the claimed id ...
    let carol = s
        .register("carol@example.com", "password-1", None)
        .await
        .unwrap();
    assert_eq!(carol.user_id, orphan);
    assert!(s.login("carol@example.com", "password-1").await.is_ok());
    // ... and from then on the address is taken.
    assert!(matches!(
        s.register("carol@example.com", "password-2", None).await,
        Err(IdentityError::EmailTaken)
    ));
    let claim_events = stream_events(f.store.as_ref(), &email_stream_id(&email)).await;
    assert_eq!(claim_events.len(), 1, "the claim is not written twice");
}

async fn roles_granted_and_revoked(db: Arc<TestDb>) {
    let f = fixture(&db).await;
    let s = &f.service;
    let admin = s
        .create_admin("root@example.com", "password-root")
        .await
        .unwrap();
    let dave = s
        .register("dave@example.com", "password-1", None)
        .await
        .unwrap();
    let stream = format!("user-{}", dave.user_id);

    let view = s
        .grant_role(Some(admin.user_id), dave.user_id, Role::Organizer)
        .await
        .unwrap();
    assert_eq!(view.roles, vec![Role::Customer, Role::Organizer]);
    let events = stream_events(f.store.as_ref(), &stream).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].event_type, "RoleGranted");
    assert_eq!(
        events[1].data,
        json!({
            "role": "organizer",
            "grantedBy": admin.user_id.to_string(),
            "grantedAt": "2025-01-20T10:00:00Z",
        })
    );
    assert_eq!(
        events[1].metadata.actor_user_id,
        Some(admin.user_id.to_string())
    );

    // Granting again and revoking what is not held write nothing.
    s.grant_role(Some(admin.user_id), dave.user_id, Role::Organizer)
        .await
        .unwrap();
    s.revoke_role(None, dave.user_id, Role::Auditor)
        .await
        .unwrap();
    assert_eq!(stream_events(f.store.as_ref(), &stream).await.len(), 2);

    // New access tokens carry the roles.
    let pair = s.login("dave@example.com", "password-1").await.unwrap();
    assert!(
        s.verify_access_token(&pair.access_token)
            .unwrap()
            .has_role(Role::Organizer)
    );

    let view = s
        .revoke_role(None, dave.user_id, Role::Organizer)
        .await
        .unwrap();
    assert_eq!(view.roles, vec![Role::Customer]);
    let events = stream_events(f.store.as_ref(), &stream).await;
    assert_eq!(events[2].event_type, "RoleRevoked");
    assert_eq!(events[2].data["revokedBy"], json!(null));
    let refreshed = s.refresh(&pair.refresh_token).await.unwrap();
    assert!(
        !s.verify_access_token(&refreshed.access_token)
            .unwrap()
            .has_role(Role::Organizer),
        "a refresh issues the current roles"
    );

    assert!(matches!(
        s.revoke_role(None, dave.user_id, Role::Customer).await,
        Err(IdentityError::Validation { field: "role", .. })
    ));
    let nobody = UserId::from_uuid(uuid::Uuid::now_v7());
    assert!(matches!(
        s.grant_role(None, nobody, Role::Staff).await,
        Err(IdentityError::NotFound)
    ));
    assert!(matches!(s.user(nobody).await, Err(IdentityError::NotFound)));
}

async fn disabled_users(db: Arc<TestDb>) {
    let f = fixture(&db).await;
    let s = &f.service;
    let erin = s
        .register("erin@example.com", "password-1", None)
        .await
        .unwrap();
    let pair = s.login("erin@example.com", "password-1").await.unwrap();
    let view = s.disable_user(None, erin.user_id).await.unwrap();
    assert!(view.disabled);
    assert!(matches!(
        s.login("erin@example.com", "password-1").await,
        Err(IdentityError::InvalidCredentials)
    ));
    assert!(matches!(
        s.refresh(&pair.refresh_token).await,
        Err(IdentityError::Disabled)
    ));
    assert!(matches!(
        s.grant_role(None, erin.user_id, Role::Staff).await,
        Err(IdentityError::Disabled)
    ));

    // Password changes check the current password (on an active user).
    let frank = s
        .register("frank@example.com", "password-1", None)
        .await
        .unwrap();
    assert!(matches!(
        s.change_password(frank.user_id, "wrong-one", "password-2")
            .await,
        Err(IdentityError::InvalidCredentials)
    ));
    s.change_password(frank.user_id, "password-1", "password-2")
        .await
        .unwrap();
    assert!(matches!(
        s.login("frank@example.com", "password-1").await,
        Err(IdentityError::InvalidCredentials)
    ));
    assert!(s.login("frank@example.com", "password-2").await.is_ok());
}

async fn create_admin(db: Arc<TestDb>) {
    let f = fixture(&db).await;
    let s = &f.service;
    let root = s
        .create_admin("Root@Example.com", "password-root")
        .await
        .unwrap();
    assert_eq!(root.roles, vec![Role::Customer, Role::Admin]);
    let registered = stream_events(f.store.as_ref(), &format!("user-{}", root.user_id)).await;
    assert_eq!(registered[0].data["roles"], json!(["customer", "admin"]));
    // Running it again is harmless.
    let again = s
        .create_admin("root@example.com", "password-root")
        .await
        .unwrap();
    assert_eq!(again.user_id, root.user_id);

    // An existing user is promoted only with the right password.
    let gina = s
        .register("gina@example.com", "password-1", None)
        .await
        .unwrap();
    assert!(matches!(
        s.create_admin("gina@example.com", "not-her-password").await,
        Err(IdentityError::InvalidCredentials)
    ));
    assert_eq!(
        s.user(gina.user_id).await.unwrap().roles,
        vec![Role::Customer]
    );
    let gina = s
        .create_admin("gina@example.com", "password-1")
        .await
        .unwrap();
    assert_eq!(gina.roles, vec![Role::Customer, Role::Admin]);
    let events = stream_events(f.store.as_ref(), &format!("user-{}", gina.user_id)).await;
    assert_eq!(events.last().unwrap().event_type, "RoleGranted");
    assert_eq!(events.last().unwrap().data["grantedBy"], json!(null));
}
