//! The KurrentDB stand-in speaks the protocol the `kurrentdb` client expects, and the adapter's
//! own promises beyond the contract suite: positions mapped from non-contiguous `$all` positions,
//! crash recovery by the indexer (events and deadlines), refusal of SQLite, multi-stream commits
//! through KurrentDB's v2 multi-stream append where the server has it and one append per stream
//! where it does not, and on a cluster through the leader, followed when it changes
//! (docs/decisions/0037-kurrentdb-event-store.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use eventstore::{
    AppendToStreamOptions, Client, CurrentRevision, EventData, ReadStreamOptions, StreamPosition,
    StreamState, SubscribeToAllOptions,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tessera_application::{AppendRequest, EventStore, ExpectedVersion, NewDeadline, StoreError};
use tessera_infrastructure::Database;
use tessera_infrastructure::audit::verify;
use tessera_infrastructure::kurrentdb::{KurrentDbSettings, open, open_on};
use tessera_tests::kurrentdb_standin::{KurrentDbCluster, KurrentDbStandIn};
use tessera_tests::{Backend, Suite, TestDb, new_event, stream};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("standin_speaks_the_client_protocol", standin_protocol)
        .case("positions_are_contiguous_over_byte_offsets", positions)
        .case("a_crashed_append_is_indexed_on_restart", crash_recovery)
        .case("sqlite_is_refused", sqlite_refused)
        .case(
            "multi_stream_commit_is_one_append_session",
            multi_stream_one_session,
        )
        .case(
            "multi_stream_conflict_in_kurrentdb_writes_no_stream",
            multi_stream_conflict,
        )
        .case(
            "multi_stream_commit_without_the_feature_appends_per_stream",
            multi_stream_fallback,
        )
        .case(
            "cluster_multi_stream_commit_goes_to_the_leader",
            cluster_commit_on_leader,
        )
        .case("cluster_leader_change_is_followed", cluster_leader_change)
        .case("cluster_found_through_dns_discovery", cluster_dns_discovery)
        .case(
            "cluster_leader_lost_is_found_again_through_gossip",
            cluster_leader_lost,
        )
        .run()
}

fn client(standin: &KurrentDbStandIn) -> Client {
    Client::new(standin.url().parse().unwrap()).unwrap()
}

/// Exercised through the official client only: expected states, idempotent re-append, reads both
/// ways, `StreamNotFound`, and a catch-up subscription to `$all` that turns live.
async fn standin_protocol(db: Arc<TestDb>) {
    if db.backend != Backend::Sqlite {
        return; // needs no database: once is enough
    }
    let standin = KurrentDbStandIn::start().await.unwrap();
    let c = client(&standin);
    let ev = |n: u32| EventData::json("Happened", &json!({"n": n})).unwrap();
    let first_id = uuid::Uuid::new_v4();
    let first = ev(0).id(first_id);
    let w = c
        .append_to_stream(
            "s-1",
            &AppendToStreamOptions::default().stream_state(StreamState::NoStream),
            vec![first.clone(), ev(1)],
        )
        .await
        .unwrap();
    assert_eq!(w.next_expected_version, 1);
    let again = c
        .append_to_stream(
            "s-1",
            &AppendToStreamOptions::default().stream_state(StreamState::NoStream),
            vec![first.clone()],
        )
        .await
        .expect("a batch already stored is accepted again");
    assert_eq!(again.next_expected_version, 0, "the original revision");
    for (state, current) in [
        (StreamState::NoStream, CurrentRevision::Current(1)),
        (StreamState::StreamRevision(0), CurrentRevision::Current(1)),
    ] {
        match c
            .append_to_stream(
                "s-1",
                &AppendToStreamOptions::default().stream_state(state),
                vec![ev(9)],
            )
            .await
        {
            Err(eventstore::Error::WrongExpectedVersion {
                current: got,
                expected,
            }) => {
                assert_eq!((got, expected), (current, state));
            }
            other => panic!("expected WrongExpectedVersion for {state:?}, got {other:?}"),
        }
    }
    match c
        .append_to_stream(
            "s-2",
            &AppendToStreamOptions::default().stream_state(StreamState::StreamExists),
            vec![ev(9)],
        )
        .await
    {
        Err(eventstore::Error::WrongExpectedVersion { current, .. }) => {
            assert_eq!(current, CurrentRevision::NoStream);
        }
        other => panic!("expected WrongExpectedVersion, got {other:?}"),
    }
    c.append_to_stream(
        "s-1",
        &AppendToStreamOptions::default().stream_state(StreamState::StreamRevision(1)),
        vec![ev(2)],
    )
    .await
    .unwrap();
    let mut back = c
        .read_stream(
            "s-1",
            &ReadStreamOptions::default()
                .position(StreamPosition::End)
                .backwards()
                .max_count(10),
        )
        .await
        .unwrap();
    let mut revisions = Vec::new();
    while let Some(e) = back.next().await.unwrap() {
        revisions.push(e.get_original_event().revision);
    }
    assert_eq!(revisions, vec![2, 1, 0]);
    let mut missing = c
        .read_stream("s-2", &ReadStreamOptions::default())
        .await
        .unwrap();
    assert!(matches!(
        missing.next().await,
        Err(eventstore::Error::ResourceNotFound)
    ));

    let mut sub = c
        .subscribe_to_all(&SubscribeToAllOptions::default().position(StreamPosition::Start))
        .await;
    let mut ids = Vec::new();
    while ids.len() < 3 {
        let e = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .unwrap()
            .unwrap();
        ids.push(e.get_original_event().id);
    }
    assert_eq!(ids[0], first_id);
    c.append_to_stream("s-3", &AppendToStreamOptions::default(), vec![ev(3)])
        .await
        .unwrap();
    let live = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("the live event arrives")
        .unwrap();
    assert_eq!(live.get_original_event().stream_id(), "s-3");
}

/// Global positions are 1, 2, 3… while the server's `$all` positions jump by event sizes.
async fn positions(db: Arc<TestDb>) {
    if db.backend != Backend::Postgres {
        return;
    }
    let standin = KurrentDbStandIn::start().await.unwrap();
    let (_db, stores) = kurrent_stores(&db, &standin).await;
    let s = stores.events;
    for i in 0..3 {
        s.append(AppendRequest::new(
            stream(&format!("counter-{i}")),
            ExpectedVersion::NoStream,
            vec![new_event(
                "Counted",
                json!({"padding": "x".repeat(i * 100)}),
            )],
        ))
        .await
        .unwrap();
    }
    let raw = standin.positions();
    assert_eq!(raw.len(), 3);
    assert!(
        raw.windows(2).all(|w| w[1] > w[0] + 1),
        "the stand-in's positions are not contiguous: {raw:?}"
    );
    let all = s.read_all(0, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.global_position).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(s.read_all(2, 10).await.unwrap()[0].global_position, 3);
    assert_eq!(s.head_position().await.unwrap(), 3);
}

/// A writer that died after KurrentDB took its events but before PostgreSQL indexed them: the
/// next store opened indexes them, deadline included, once.
async fn crash_recovery(db: Arc<TestDb>) {
    if db.backend != Backend::Postgres {
        return;
    }
    let standin = KurrentDbStandIn::start().await.unwrap();
    let (database, stores) = kurrent_stores(&db, &standin).await;
    let due = chrono::Utc::now() - chrono::Duration::seconds(1);
    let mut request = AppendRequest::new(
        stream("order-1"),
        ExpectedVersion::NoStream,
        vec![new_event("Placed", json!({}))],
    );
    request.deadlines.push(NewDeadline {
        deadline_id: uuid::Uuid::now_v7(),
        kind: "test.expiry".into(),
        due_at: due,
        payload: json!({"order": 1}),
    });
    stores.events.append(request.clone()).await.unwrap();
    let Database::Postgres(pool) = &database else {
        panic!("PostgreSQL")
    };
    // The crash: KurrentDB has the second commit, PostgreSQL never indexed it.
    let mut second = request.clone();
    second.expected_version = ExpectedVersion::Exact(1);
    second.events = vec![new_event("Paid", json!({}))];
    second.deadlines[0].deadline_id = uuid::Uuid::now_v7();
    stores.events.append(second.clone()).await.unwrap();
    sqlx::query("DELETE FROM kdb_index WHERE global_position = 2")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE kdb_index_head SET position = 1, commit_position = \
         (SELECT commit_position FROM kdb_index WHERE global_position = 1), prepare_position = \
         (SELECT prepare_position FROM kdb_index WHERE global_position = 1)",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM deadlines WHERE deadline_id = $1")
        .bind(second.deadlines[0].deadline_id)
        .execute(pool)
        .await
        .unwrap();
    drop(stores);

    let (_database, stores) = kurrent_stores(&db, &standin).await;
    assert_eq!(stores.events.head_position().await.unwrap(), 2);
    assert_eq!(stores.deadlines.pending_count().await.unwrap(), 2);
    let retried = stores.events.append(second).await.unwrap();
    assert!(retried.deduplicated, "the retry is answered from the index");
    assert_eq!(retried.positions, vec![2]);
    assert_eq!(stores.deadlines.pending_count().await.unwrap(), 2);
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

async fn sqlite_refused(db: Arc<TestDb>) {
    if db.backend != Backend::Sqlite {
        return;
    }
    let database = Database::connect(&db.url, 2).await.unwrap();
    database.migrate().await.unwrap();
    let err = open_on(
        &database,
        &KurrentDbSettings::new("kurrentdb://127.0.0.1:2113?tls=false"),
    )
    .await
    .err()
    .expect("SQLite is refused");
    let message = err.to_string();
    assert!(message.contains("TESSERA_DATABASE_URL"), "{message}");
    assert!(message.contains("SQLite"), "{message}");
}

async fn kurrent_stores(
    db: &TestDb,
    standin: &KurrentDbStandIn,
) -> (Database, tessera_infrastructure::Stores) {
    kurrent_stores_at(db, &standin.url()).await
}

async fn kurrent_stores_at(db: &TestDb, url: &str) -> (Database, tessera_infrastructure::Stores) {
    let database = Database::connect(&db.url, 10).await.unwrap();
    database.migrate().await.unwrap();
    let Database::Postgres(pool) = &database else {
        panic!("PostgreSQL")
    };
    let stores = open(pool.clone(), &KurrentDbSettings::new(url))
        .await
        .unwrap();
    (database, stores)
}

fn commit_of_three(due: chrono::DateTime<chrono::Utc>) -> Vec<AppendRequest> {
    let mut held = AppendRequest::new(
        stream("seatSession-1"),
        ExpectedVersion::NoStream,
        vec![new_event(
            "SeatsHeld",
            json!({"seat": "A-001", "ratio": 0.25}),
        )],
    );
    held.deadlines.push(NewDeadline {
        deadline_id: uuid::Uuid::now_v7(),
        kind: "test.expiry".into(),
        due_at: due,
        payload: json!({"order": 1, "n": -3}),
    });
    vec![
        AppendRequest::new(
            stream("order-1"),
            ExpectedVersion::NoStream,
            vec![
                new_event("OrderPlaced", json!({"n": 1})),
                new_event("OrderPriced", json!({"amount": "12.50"})),
            ],
        ),
        held,
        AppendRequest::new(
            stream("counter-1"),
            ExpectedVersion::Exact(1),
            vec![new_event("Counted", json!({}))],
        ),
    ]
}

/// On a server with the v2 multi-stream append, a commit over three streams is one
/// `AppendSession` and no v1 append; the events read back (v1 Read API: properties as JSON with
/// the server's `$schema.*` keys) with their positions, deadline and an intact hash chain. A
/// commit whose envelope holds a number a double would rewrite (`1.0`) goes per stream instead.
async fn multi_stream_one_session(db: Arc<TestDb>) {
    if db.backend != Backend::Postgres {
        return;
    }
    let standin = KurrentDbStandIn::start().await.unwrap();
    let (_db, stores) = kurrent_stores(&db, &standin).await;
    let s = stores.events;
    s.append(AppendRequest::new(
        stream("counter-1"),
        ExpectedVersion::NoStream,
        vec![new_event("Counted", json!({}))],
    ))
    .await
    .unwrap();
    let appends = standin.calls("append");
    assert_eq!(
        standin.calls("append_session"),
        0,
        "one stream: the v1 append"
    );
    let due = chrono::Utc::now() + chrono::Duration::hours(1);
    let commit = commit_of_three(due);
    let first_id = commit[0].events[0].event_id;
    let out = s.append_streams(commit).await.unwrap();
    assert_eq!(standin.calls("append_session"), 1);
    assert_eq!(
        standin.calls("append"),
        appends,
        "no v1 append for the commit"
    );
    assert_eq!(
        out.iter().map(|o| o.positions.clone()).collect::<Vec<_>>(),
        vec![vec![2, 3], vec![4], vec![5]]
    );
    assert_eq!(out[2].stream_version, 2);
    let raw = String::from_utf8(standin.custom_metadata(first_id).unwrap()).unwrap();
    assert!(
        raw.contains("\"$schema.name\":\"OrderPlaced\""),
        "written through the v2 API: {raw}"
    );
    let log = s.read_all(1, 10).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|e| (e.stream_id.as_str(), e.stream_version, e.global_position))
            .collect::<Vec<_>>(),
        vec![
            ("order-1", 1, 2),
            ("order-1", 2, 3),
            ("seatSession-1", 1, 4),
            ("counter-1", 2, 5),
        ]
    );
    assert_eq!(log[0].metadata.request_id.as_deref(), Some("test-request"));
    assert_eq!(log[2].data, json!({"seat": "A-001", "ratio": 0.25}));
    assert_eq!(
        log[3].prev_hash,
        s.read_stream(&stream("counter-1"), 1, 1).await.unwrap()[0].hash
    );
    assert_eq!(stores.deadlines.pending_count().await.unwrap(), 1);

    // A float without a fraction in the metadata: per stream, so that it is stored as written.
    let mut exact = new_event("OrderPaid", json!({}));
    exact.metadata.extra.insert("rate".into(), json!(1.0));
    s.append_streams(vec![
        AppendRequest::new(stream("order-1"), ExpectedVersion::Exact(2), vec![exact]),
        AppendRequest::new(
            stream("counter-1"),
            ExpectedVersion::Exact(2),
            vec![new_event("Counted", json!({}))],
        ),
    ])
    .await
    .unwrap();
    assert_eq!(standin.calls("append_session"), 1, "not through the v2 API");
    assert_eq!(standin.calls("append"), appends + 2);
    let paid = s.read_stream(&stream("order-1"), 3, 1).await.unwrap();
    assert_eq!(paid[0].metadata.extra["rate"], json!(1.0));
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.events_checked, 7);
}

/// A stream moved in KurrentDB behind the index's back (a foreign writer): the index's checks
/// pass, the multi-stream append is refused by the server with a revision conflict, which the
/// adapter reports for that stream; none of the commit's streams got anything.
async fn multi_stream_conflict(db: Arc<TestDb>) {
    if db.backend != Backend::Postgres {
        return;
    }
    let standin = KurrentDbStandIn::start().await.unwrap();
    let (_db, stores) = kurrent_stores(&db, &standin).await;
    let s = stores.events;
    s.append(AppendRequest::new(
        stream("counter-1"),
        ExpectedVersion::NoStream,
        vec![new_event("Counted", json!({}))],
    ))
    .await
    .unwrap();
    // Not Tessera's envelope: the indexer skips it, the stream's revision moves on.
    client(&standin)
        .append_to_stream(
            "counter-1",
            &AppendToStreamOptions::default(),
            vec![EventData::json("Foreign", &json!({})).unwrap()],
        )
        .await
        .unwrap();
    let before = standin.positions().len();
    let due = chrono::Utc::now() + chrono::Duration::hours(1);
    let err = s.append_streams(commit_of_three(due)).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::VersionConflict {
            stream: stream("counter-1"),
            expected: ExpectedVersion::Exact(1),
            actual: 2,
        }
    );
    assert_eq!(standin.calls("append_session"), 1, "refused by the server");
    assert_eq!(standin.positions().len(), before, "nothing written");
    let streams = standin.streams();
    assert!(
        !streams
            .iter()
            .any(|n| n == "order-1" || n == "seatSession-1"),
        "{streams:?}"
    );
    assert_eq!(s.head_position().await.unwrap(), 1);
    assert_eq!(s.stream_version(&stream("order-1")).await.unwrap(), 0);
    assert_eq!(stores.deadlines.pending_count().await.unwrap(), 0);
    // The caller's own stale expectation is still caught by the index, before any write.
    let mut stale = commit_of_three(due);
    stale[2].expected_version = ExpectedVersion::Exact(5);
    assert!(matches!(
        s.append_streams(stale).await,
        Err(StoreError::VersionConflict { actual: 1, .. })
    ));
    assert_eq!(standin.calls("append_session"), 1);
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

/// A server before 25.1 (no v2 multi-stream append listed): the commit is one v1 append per
/// stream, as before, with the same positions, deadline and hash chain; a conflict there is
/// still mapped from the v1 answer.
async fn multi_stream_fallback(db: Arc<TestDb>) {
    if db.backend != Backend::Postgres {
        return;
    }
    let standin = KurrentDbStandIn::start_without_multi_stream()
        .await
        .unwrap();
    let (_db, stores) = kurrent_stores(&db, &standin).await;
    let s = stores.events;
    s.append(AppendRequest::new(
        stream("counter-1"),
        ExpectedVersion::NoStream,
        vec![new_event("Counted", json!({}))],
    ))
    .await
    .unwrap();
    let appends = standin.calls("append");
    let due = chrono::Utc::now() + chrono::Duration::hours(1);
    let commit = commit_of_three(due);
    let first_id = commit[0].events[0].event_id;
    let out = s.append_streams(commit).await.unwrap();
    assert_eq!(
        standin.calls("append_session"),
        0,
        "not offered by the server, so not tried"
    );
    assert_eq!(
        standin.calls("append"),
        appends + 3,
        "one v1 append per stream"
    );
    assert_eq!(
        out.iter().map(|o| o.positions.clone()).collect::<Vec<_>>(),
        vec![vec![2, 3], vec![4], vec![5]]
    );
    let raw = String::from_utf8(standin.custom_metadata(first_id).unwrap()).unwrap();
    assert!(
        !raw.contains("$schema"),
        "written through the v1 API: {raw}"
    );
    assert_eq!(stores.deadlines.pending_count().await.unwrap(), 1);
    client(&standin)
        .append_to_stream(
            "counter-1",
            &AppendToStreamOptions::default(),
            vec![EventData::json("Foreign", &json!({})).unwrap()],
        )
        .await
        .unwrap();
    let err = s
        .append_streams(vec![
            AppendRequest::new(
                stream("counter-1"),
                ExpectedVersion::Exact(2),
                vec![new_event("Counted", json!({}))],
            ),
            AppendRequest::new(
                stream("order-1"),
                ExpectedVersion::Exact(2),
                vec![new_event("OrderPaid", json!({}))],
            ),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::VersionConflict {
            stream: stream("counter-1"),
            expected: ExpectedVersion::Exact(2),
            actual: 3,
        }
    );
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.events_checked, 5);
}

/// Calls of `method` on each node of `cluster`, in node order.
fn calls(cluster: &KurrentDbCluster, method: &str) -> [u64; 2] {
    [cluster.node(0).calls(method), cluster.node(1).calls(method)]
}

/// A two-stream commit creating `order-{n}` and adding to `counter-1` at `counter_version`.
fn commit_of_two(n: u32, counter_version: u64) -> Vec<AppendRequest> {
    vec![
        AppendRequest::new(
            stream(&format!("order-{n}")),
            ExpectedVersion::NoStream,
            vec![new_event("OrderPlaced", json!({"n": n}))],
        ),
        AppendRequest::new(
            stream("counter-1"),
            ExpectedVersion::Exact(counter_version),
            vec![new_event("Counted", json!({"n": n}))],
        ),
    ]
}

/// Creates `counter-1` with one event: the stream every cluster case's two-stream commits add to.
async fn start_counter(s: &dyn EventStore) {
    s.append(AppendRequest::new(
        stream("counter-1"),
        ExpectedVersion::NoStream,
        vec![new_event("Counted", json!({}))],
    ))
    .await
    .unwrap();
}

/// A cluster whose connection string lists the follower first: the adapter asks gossip (the
/// follower answers first) and sends the multi-stream commit as ONE `AppendSession` to the leader,
/// none to the follower; a revision conflict there writes no stream of the commit.
async fn cluster_commit_on_leader(db: Arc<TestDb>) {
    if db.backend != Backend::Postgres {
        return;
    }
    let cluster = KurrentDbCluster::start(2, 1).await.unwrap();
    let (_db, stores) = kurrent_stores_at(&db, &cluster.url("tls=false")).await;
    let s = stores.events;
    start_counter(s.as_ref()).await;
    assert_eq!(
        calls(&cluster, "append"),
        [0, 1],
        "the client's own v1 append goes to the leader"
    );
    let due = chrono::Utc::now() + chrono::Duration::hours(1);
    let out = s.append_streams(commit_of_three(due)).await.unwrap();
    assert_eq!(
        calls(&cluster, "append_session"),
        [0, 1],
        "one session, on the leader"
    );
    assert_eq!(
        calls(&cluster, "append"),
        [0, 1],
        "no v1 append for the commit"
    );
    assert!(
        cluster.node(0).calls("gossip") >= 1,
        "the first seed, a follower, was asked who leads"
    );
    assert_eq!(
        out.iter().map(|o| o.positions.clone()).collect::<Vec<_>>(),
        vec![vec![2, 3], vec![4], vec![5]]
    );
    assert_eq!(stores.deadlines.pending_count().await.unwrap(), 1);

    // All or none on the cluster too: counter-1 moved in KurrentDB behind the index's back.
    let foreign = Client::new(cluster.url("tls=false").parse().unwrap()).unwrap();
    foreign
        .append_to_stream(
            "counter-1",
            &AppendToStreamOptions::default(),
            vec![EventData::json("Foreign", &json!({})).unwrap()],
        )
        .await
        .unwrap();
    let before = cluster.node(1).positions().len();
    let err = s.append_streams(commit_of_two(2, 2)).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::VersionConflict {
            stream: stream("counter-1"),
            expected: ExpectedVersion::Exact(2),
            actual: 3,
        }
    );
    assert_eq!(calls(&cluster, "append_session"), [0, 2]);
    assert_eq!(cluster.node(1).positions().len(), before, "nothing written");
    assert!(!cluster.node(1).streams().iter().any(|n| n == "order-2"));
    assert_eq!(s.head_position().await.unwrap(), 5);
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

/// The leader changes between commits (the nodes swap roles). The adapter's channel still points
/// at the old leader, which refuses the session without writing; the adapter follows the leader
/// the refusal names and sends it again there, once. With `nodePreference=follower` the
/// `kurrentdb` client's own calls go to a follower, which serves them whoever leads. With the
/// default preference (the leader) that client's first call after the change is refused by the
/// old leader (it asks for the leader): that commit fails before anything is written, the client
/// moves to the new leader, and the next commit goes through.
async fn cluster_leader_change(db: Arc<TestDb>) {
    if db.backend != Backend::Postgres {
        return;
    }
    let cluster = KurrentDbCluster::start(2, 0).await.unwrap();
    let (_db, stores) =
        kurrent_stores_at(&db, &cluster.url("tls=false&nodePreference=follower")).await;
    let s = stores.events;
    start_counter(s.as_ref()).await;
    assert_eq!(
        calls(&cluster, "append"),
        [0, 1],
        "the client is on the follower"
    );
    s.append_streams(commit_of_two(1, 1)).await.unwrap();
    assert_eq!(calls(&cluster, "append_session"), [1, 0]);

    cluster.elect(1);
    let before = cluster.node(0).positions().len();
    let out = s.append_streams(commit_of_two(2, 2)).await.unwrap();
    assert_eq!(
        calls(&cluster, "append_session"),
        [2, 1],
        "refused by the old leader, then written by the new one"
    );
    assert_eq!(
        cluster.node(0).positions().len(),
        before + 2,
        "written once"
    );
    assert_eq!(
        out.iter().map(|o| o.positions.clone()).collect::<Vec<_>>(),
        vec![vec![4], vec![5]]
    );
    cluster.elect(0);
    s.append_streams(commit_of_two(3, 3)).await.unwrap();
    assert_eq!(calls(&cluster, "append_session"), [3, 2], "and back");
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.events_checked, 7);

    // The default node preference.
    let cluster = KurrentDbCluster::start(2, 0).await.unwrap();
    let db2 = TestDb::create(Backend::Postgres).await;
    let (_db2, stores) = kurrent_stores_at(&db2, &cluster.url("tls=false")).await;
    let s = stores.events;
    start_counter(s.as_ref()).await;
    s.append_streams(commit_of_two(1, 1)).await.unwrap();
    assert_eq!(calls(&cluster, "append_session"), [1, 0]);
    cluster.elect(1);
    let before = cluster.node(0).positions().len();
    let refused = s.append_streams(commit_of_two(2, 2)).await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::Unavailable(m) if m.contains("requires a leader")),
        "the client's read refused by the old leader: {refused:?}"
    );
    assert_eq!(cluster.node(0).positions().len(), before, "nothing written");
    assert_eq!(calls(&cluster, "append_session"), [1, 0], "not reached");
    s.append_streams(commit_of_two(2, 2)).await.unwrap();
    assert_eq!(calls(&cluster, "append_session"), [2, 1]);
    assert_eq!(s.head_position().await.unwrap(), 5);
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

/// `kurrentdb+discover://localhost:PORT`: the one host is a DNS name whose gossip tells the
/// members (here it resolves to one follower); the commit goes to the leader gossip names.
async fn cluster_dns_discovery(db: Arc<TestDb>) {
    if db.backend != Backend::Postgres {
        return;
    }
    let cluster = KurrentDbCluster::start(2, 1).await.unwrap();
    let (_db, stores) = kurrent_stores_at(&db, &cluster.discover_url(0)).await;
    let s = stores.events;
    start_counter(s.as_ref()).await;
    s.append_streams(commit_of_two(1, 1)).await.unwrap();
    assert_eq!(calls(&cluster, "append_session"), [0, 1]);
    assert_eq!(calls(&cluster, "append"), [0, 1]);
    assert!(
        cluster.node(0).calls("gossip") >= 2,
        "asked by the client and the adapter"
    );
    assert_eq!(
        cluster.node(1).calls("gossip"),
        0,
        "only the name given was asked"
    );
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

/// The leader stops (and another is elected): the adapter's channel to it fails, which is not
/// retried (whether a failed call landed is unknown in general) and makes the adapter forget
/// that node; the next commit asks gossip again (the stopped node first: no answer, then the
/// other) and goes to the new leader. The `kurrentdb` client reads from the other node
/// (`nodePreference=follower`), so only the adapter's channel meets the stopped node.
async fn cluster_leader_lost(db: Arc<TestDb>) {
    if db.backend != Backend::Postgres {
        return;
    }
    let mut cluster = KurrentDbCluster::start(2, 0).await.unwrap();
    let (_db, stores) =
        kurrent_stores_at(&db, &cluster.url("tls=false&nodePreference=follower")).await;
    let s = stores.events;
    start_counter(s.as_ref()).await;
    s.append_streams(commit_of_two(1, 1)).await.unwrap();
    assert_eq!(calls(&cluster, "append_session"), [1, 0]);
    let gossip = cluster.node(1).calls("gossip");

    cluster.stop(0);
    cluster.elect(1);
    let before = cluster.node(1).positions().len();
    let lost = s.append_streams(commit_of_two(2, 2)).await.unwrap_err();
    assert!(
        matches!(&lost, StoreError::Unavailable(m) if m.contains("AppendSession")),
        "{lost:?}"
    );
    assert_eq!(cluster.node(1).positions().len(), before, "nothing written");
    assert_eq!(calls(&cluster, "append_session")[1], 0, "not retried");
    s.append_streams(commit_of_two(2, 2)).await.unwrap();
    assert_eq!(calls(&cluster, "append_session")[1], 1);
    assert!(
        cluster.node(1).calls("gossip") > gossip,
        "the leader was found again through gossip"
    );
    assert_eq!(s.head_position().await.unwrap(), 5);
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}
