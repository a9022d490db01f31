//! The event store contract: every backend must pass every case (DESIGN.md §3, issue "engine").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tessera_application::{
    AppendRequest, ExpectedVersion, NewDeadline, NewEvent, StoreError, StreamId, Subscription,
};
use tessera_infrastructure::audit::verify;
use tessera_infrastructure::hashing::GENESIS_HASH;
use tessera_tests::{Suite, TestDb, new_event, stream};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("append_and_read_back_the_envelope", append_and_read_back)
        .case("expected_version_is_enforced", expected_version_is_enforced)
        .case("reappending_the_same_ids_is_a_no_op", idempotent_retry)
        .case(
            "concurrent_retries_of_one_batch_write_it_once",
            concurrent_retries,
        )
        .case("reads_start_in_the_middle", reads_from_the_middle)
        .case("bad_appends_are_refused_and_write_nothing", bad_appends)
        .case("subscription_started_before_appends", subscription_before)
        .case("subscription_started_after_appends", subscription_after)
        .case(
            "concurrent_appenders_and_a_live_subscriber",
            concurrent_appenders,
        )
        .case(
            "multi_stream_commit_is_all_or_nothing",
            multi_stream_all_or_nothing,
        )
        .case(
            "multi_stream_commit_is_deduplicated_as_a_whole",
            multi_stream_dedup,
        )
        .case(
            "concurrent_retries_of_one_multi_stream_commit_write_it_once",
            multi_stream_concurrent_retries,
        )
        .case(
            "concurrent_multi_stream_commits_on_overlapping_streams",
            multi_stream_overlapping,
        )
        .case(
            "group_commit_a_conflicting_append_fails_alone",
            group_commit_fails_alone,
        )
        .case(
            "group_commit_live_reader_sees_contiguous_commit_order",
            group_commit_live_reader,
        )
        .case(
            "group_commit_reappends_in_one_group_are_deduplicated",
            group_commit_dedup,
        )
        // Every case again on the KurrentDB adapter, over the stand-in (or a real server at
        // TESSERA_TEST_KURRENTDB_URL); docs/decisions/0037-kurrentdb-event-store.md.
        .with_kurrentdb()
        .run()
}

async fn append_and_read_back(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let order = stream("openticketOrder-1");
    let a = new_event(
        "OpenTicketOrderPlaced",
        json!({"seats": ["A-001"], "amount": "3200.00"}),
    );
    let b = new_event("OrderPaid", json!({"provider": "Mock"}));
    let out = s
        .append(AppendRequest::new(
            order.clone(),
            ExpectedVersion::NoStream,
            vec![a.clone(), b.clone()],
        ))
        .await
        .unwrap();
    assert_eq!(out.stream_version, 2);
    assert_eq!(out.positions, vec![1, 2]);
    assert!(!out.deduplicated);
    let other = s
        .append(AppendRequest::new(
            stream("openticketSeatSession-9"),
            ExpectedVersion::Any,
            vec![new_event("OpenTicketSeatsLocked", json!({}))],
        ))
        .await
        .unwrap();
    assert_eq!(other.positions, vec![3]);

    let events = s.read_stream(&order, 1, 100).await.unwrap();
    assert_eq!(events.len(), 2);
    let (e1, e2) = (&events[0], &events[1]);
    assert_eq!((e1.stream_version, e1.global_position), (1, 1));
    assert_eq!((e2.stream_version, e2.global_position), (2, 2));
    assert_eq!(e1.event_id, a.event_id);
    assert_eq!(e1.event_type, "OpenTicketOrderPlaced");
    assert_eq!(e1.schema_version, 1);
    assert_eq!(e1.data, a.data);
    assert_eq!(e1.metadata.request_id.as_deref(), Some("test-request"));
    assert_eq!(e1.prev_hash, GENESIS_HASH);
    assert_eq!(
        e2.prev_hash, e1.hash,
        "hash chain links to the previous event of the stream"
    );
    assert_ne!(e1.hash, e2.hash);
    assert!(e2.recorded_at >= e1.recorded_at);
    assert!((chrono::Utc::now() - e1.recorded_at).num_seconds().abs() < 60);
    assert_eq!(s.head_position().await.unwrap(), 3);
    assert_eq!(s.stream_version(&order).await.unwrap(), 2);
    assert_eq!(s.stream_version(&stream("order-none")).await.unwrap(), 0);
    // Several at once, in the order asked, a missing stream as 0 and a repeated one twice.
    let seats = stream("openticketSeatSession-9");
    assert_eq!(
        s.stream_versions(&[&seats, &stream("order-none"), &order, &seats])
            .await
            .unwrap(),
        vec![1, 0, 2, 1]
    );
    assert_eq!(
        s.read_stream(&stream("order-none"), 1, 10).await,
        Err(StoreError::StreamNotFound(stream("order-none")))
    );
    // From a version on, with a limit, and past the end of a stream that exists (nothing, not
    // "not found": the catch-up of a cached state reads there).
    let from_two = s.read_stream(&order, 2, 10).await.unwrap();
    assert_eq!(
        from_two
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(from_two[0].event_id, e2.event_id);
    let first = s.read_stream(&order, 1, 1).await.unwrap();
    assert_eq!(
        first.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(s.read_stream(&order, 3, 10).await, Ok(Vec::new()));
}

async fn expected_version_is_enforced(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let st = stream("ticket-1");
    let ev = || vec![new_event("Issued", json!({}))];
    s.append(AppendRequest::new(
        st.clone(),
        ExpectedVersion::NoStream,
        ev(),
    ))
    .await
    .unwrap();
    let err = s
        .append(AppendRequest::new(
            st.clone(),
            ExpectedVersion::NoStream,
            ev(),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::VersionConflict {
            stream: st.clone(),
            expected: ExpectedVersion::NoStream,
            actual: 1
        }
    );
    let err = s
        .append(AppendRequest::new(
            st.clone(),
            ExpectedVersion::Exact(5),
            ev(),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::VersionConflict {
            stream: st.clone(),
            expected: ExpectedVersion::Exact(5),
            actual: 1
        }
    );
    let err = s
        .append(AppendRequest::new(
            stream("ticket-2"),
            ExpectedVersion::Exact(1),
            ev(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { actual: 0, .. }));
    assert_eq!(
        s.append(AppendRequest::new(
            st.clone(),
            ExpectedVersion::Exact(1),
            ev()
        ))
        .await
        .unwrap()
        .stream_version,
        2
    );
    assert_eq!(
        s.append(AppendRequest::new(st.clone(), ExpectedVersion::Any, ev()))
            .await
            .unwrap()
            .stream_version,
        3
    );
    assert_eq!(
        s.append(AppendRequest::new(
            stream("ticket-3"),
            ExpectedVersion::Exact(0),
            ev()
        ))
        .await
        .unwrap()
        .stream_version,
        1,
        "Exact(0) means no stream"
    );
    // Failed appends wrote nothing.
    assert_eq!(s.head_position().await.unwrap(), 4);
    assert_eq!(s.stream_version(&stream("ticket-2")).await.unwrap(), 0);
}

async fn idempotent_retry(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let st = stream("order-7");
    let batch = vec![
        new_event("A", json!({"n": 1})),
        new_event("B", json!({"n": 2})),
    ];
    let first = s
        .append(AppendRequest::new(
            st.clone(),
            ExpectedVersion::NoStream,
            batch.clone(),
        ))
        .await
        .unwrap();
    s.append(AppendRequest::new(
        st.clone(),
        ExpectedVersion::Exact(2),
        vec![new_event("C", json!({}))],
    ))
    .await
    .unwrap();
    // A retry after success, even with the now-stale expected version, returns the original result.
    let again = s
        .append(AppendRequest::new(
            st.clone(),
            ExpectedVersion::NoStream,
            batch.clone(),
        ))
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.positions, first.positions);
    assert_eq!(again.stream_version, 2);
    assert_eq!(s.head_position().await.unwrap(), 3);
    // Partly stored: not a retry.
    let mixed = vec![batch[0].clone(), new_event("D", json!({}))];
    let err = s
        .append(AppendRequest::new(st.clone(), ExpectedVersion::Any, mixed))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateEventId { event_id, .. } if event_id == batch[0].event_id)
    );
    // Same id into another stream.
    let err = s
        .append(AppendRequest::new(
            stream("order-8"),
            ExpectedVersion::Any,
            vec![batch[1].clone()],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::DuplicateEventId {
            event_id: batch[1].event_id,
            stored_in: st.clone()
        }
    );
    assert_eq!(
        s.head_position().await.unwrap(),
        3,
        "refused appends wrote nothing"
    );
}

async fn concurrent_retries(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let st = stream("payment-1");
    s.append(AppendRequest::new(
        st.clone(),
        ExpectedVersion::NoStream,
        vec![new_event("Started", json!({}))],
    ))
    .await
    .unwrap();
    let batch = vec![new_event("Captured", json!({"amount": "10.00"}))];
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (s, st, batch) = (s.clone(), st.clone(), batch.clone());
        tasks.push(tokio::spawn(async move {
            s.append(AppendRequest::new(st, ExpectedVersion::Exact(1), batch))
                .await
        }));
    }
    let mut written = 0;
    for t in tasks {
        let out = t
            .await
            .unwrap()
            .expect("a retry of the same batch never conflicts");
        assert_eq!(out.positions, vec![2]);
        if !out.deduplicated {
            written += 1;
        }
    }
    assert_eq!(written, 1);
    assert_eq!(s.stream_version(&st).await.unwrap(), 2);
}

async fn reads_from_the_middle(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    for i in 0..10 {
        let st = stream(if i % 2 == 0 { "even-1" } else { "odd-1" });
        s.append(AppendRequest::new(
            st,
            ExpectedVersion::Any,
            vec![new_event("N", json!({"i": i}))],
        ))
        .await
        .unwrap();
    }
    let all = s.read_all(4, 3).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.global_position).collect::<Vec<_>>(),
        vec![5, 6, 7]
    );
    assert_eq!(all[0].data, json!({"i": 4}));
    assert!(s.read_all(10, 5).await.unwrap().is_empty());
    let even = s.read_stream(&stream("even-1"), 3, 2).await.unwrap();
    assert_eq!(
        even.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert_eq!(even[0].data, json!({"i": 4}));
    assert!(
        s.read_stream(&stream("even-1"), 6, 10)
            .await
            .unwrap()
            .is_empty(),
        "past the end of an existing stream"
    );
}

async fn bad_appends(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let st = stream("order-1");
    let empty = s
        .append(AppendRequest::new(st.clone(), ExpectedVersion::Any, vec![]))
        .await;
    assert!(matches!(empty, Err(StoreError::InvalidRequest(_))));
    let not_object = s
        .append(AppendRequest::new(
            st.clone(),
            ExpectedVersion::Any,
            vec![new_event("X", json!([1]))],
        ))
        .await;
    assert!(matches!(not_object, Err(StoreError::InvalidRequest(_))));
    let e = new_event("X", json!({}));
    let twice = s
        .append(AppendRequest::new(
            st.clone(),
            ExpectedVersion::Any,
            vec![e.clone(), e],
        ))
        .await;
    assert!(matches!(twice, Err(StoreError::InvalidRequest(_))));
    assert_eq!(s.head_position().await.unwrap(), 0);
    assert_eq!(s.stream_version(&st).await.unwrap(), 0);
}

async fn subscription_before(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let mut sub = Subscription::new(s.clone(), 0).with_batch_size(3);
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                s.append(AppendRequest::new(
                    stream("live-1"),
                    ExpectedVersion::Any,
                    vec![new_event("N", json!({"i": i}))],
                ))
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    for expected in 1..=20u64 {
        let e = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("live event")
            .unwrap();
        assert_eq!(e.global_position, expected);
        assert_eq!(e.data, json!({"i": expected - 1}));
    }
    writer.await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next())
            .await
            .is_err(),
        "no extra events"
    );
}

async fn subscription_after(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    for i in 0..7 {
        s.append(AppendRequest::new(
            stream("past-1"),
            ExpectedVersion::Any,
            vec![new_event("N", json!({"i": i}))],
        ))
        .await
        .unwrap();
    }
    let mut sub = Subscription::new(s.clone(), 2).with_batch_size(2);
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(sub.next().await.unwrap().global_position);
    }
    assert_eq!(seen, vec![3, 4, 5, 6, 7]);
    s.append(AppendRequest::new(
        stream("past-1"),
        ExpectedVersion::Any,
        vec![new_event("N", json!({}))],
    ))
    .await
    .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.global_position, 8);
    assert_eq!(sub.position(), 8);
}

/// 16 writers to distinct streams and 16 to one shared stream (re-reading the version after each
/// conflict), with a live subscriber that must see every committed event exactly once, in order.
async fn concurrent_appenders(db: Arc<TestDb>) {
    const WRITERS: usize = 16;
    const APPENDS: usize = 15;
    let (_db, stores) = db.stores().await;
    let s = stores.events;

    let subscriber = {
        let s = s.clone();
        tokio::spawn(async move {
            let mut sub = Subscription::new(s, 0).with_batch_size(7);
            let mut seen = Vec::new();
            let total = (WRITERS * APPENDS * 2 * 2) as u64;
            while (seen.len() as u64) < total {
                let e = tokio::time::timeout(Duration::from_secs(30), sub.next())
                    .await
                    .expect("subscriber stalled")
                    .unwrap();
                seen.push(e);
            }
            seen
        })
    };

    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s1 = s.clone();
        tasks.push(tokio::spawn(async move {
            let s = s1;
            let own = stream(&format!("own-{w}"));
            for i in 0..APPENDS {
                let batch = vec![
                    new_event("A", json!({"w": w, "i": i})),
                    new_event("B", json!({"w": w, "i": i})),
                ];
                s.append(AppendRequest::new(
                    own.clone(),
                    ExpectedVersion::Exact((i * 2) as u64),
                    batch,
                ))
                .await
                .unwrap();
            }
            0usize
        }));
        let s2 = s.clone();
        tasks.push(tokio::spawn(async move {
            let s = s2;
            let shared = stream("shared-1");
            let mut conflicts = 0;
            for i in 0..APPENDS {
                loop {
                    let v = s.stream_version(&shared).await.unwrap();
                    let batch = vec![
                        new_event("S", json!({"w": w, "i": i})),
                        new_event("T", json!({"w": w, "i": i})),
                    ];
                    match s
                        .append(AppendRequest::new(
                            shared.clone(),
                            ExpectedVersion::Exact(v),
                            batch,
                        ))
                        .await
                    {
                        Ok(_) => break,
                        Err(StoreError::VersionConflict { .. }) => conflicts += 1,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    let seen = subscriber.await.unwrap();
    let total = (WRITERS * APPENDS * 2 * 2) as u64;

    // Exactly once, in position order, no gaps.
    let positions: Vec<u64> = seen.iter().map(|e| e.global_position).collect();
    assert_eq!(positions, (1..=total).collect::<Vec<_>>());
    let ids: HashSet<_> = seen.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len() as u64, total);
    // Every stream's versions are contiguous and follow position order; batches stay together.
    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in &seen {
        versions
            .entry(e.stream_id.to_string())
            .or_default()
            .push(e.stream_version);
    }
    for (name, v) in &versions {
        assert_eq!(
            v,
            &(1..=v.len() as u64).collect::<Vec<_>>(),
            "versions of {name}"
        );
    }
    assert_eq!(versions["shared-1"].len(), WRITERS * APPENDS * 2);
    for pair in seen.chunks(2) {
        assert_eq!(
            pair[0].stream_id, pair[1].stream_id,
            "a batch is contiguous in the log"
        );
    }
    assert_eq!(s.head_position().await.unwrap(), total);
    // The same again from a fresh reader.
    let replay = s.read_all(0, 10_000).await.unwrap();
    assert_eq!(replay, seen);
    println!("{} conflicts retried on the shared stream", conflicts);
}

fn request(
    stream_id: &StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> AppendRequest {
    AppendRequest::new(stream_id.clone(), expected, events)
}

/// One commit over three streams: every request lands or none does; positions follow request
/// order; each stream's hash chain and the deadlines come with it; a conflict on any stream (the
/// last one here) names that stream and writes nothing; malformed commits are refused whole.
async fn multi_stream_all_or_nothing(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let (order, seats, other) = (
        stream("openticketOrder-1"),
        stream("openticketSeatSession-1"),
        stream("counter-1"),
    );
    s.append(request(
        &other,
        ExpectedVersion::NoStream,
        vec![new_event("Counted", json!({}))],
    ))
    .await
    .unwrap();
    let due = chrono::Utc::now() + chrono::Duration::hours(1);
    let deadline = NewDeadline {
        deadline_id: uuid::Uuid::now_v7(),
        kind: "test.expiry".into(),
        due_at: due,
        payload: json!({"order": 1}),
    };
    let mut held = request(
        &seats,
        ExpectedVersion::NoStream,
        vec![new_event("SeatsHeld", json!({"seat": "A-001"}))],
    );
    held.deadlines.push(deadline.clone());
    let out = s
        .append_streams(vec![
            request(
                &order,
                ExpectedVersion::NoStream,
                vec![
                    new_event("OrderPlaced", json!({"n": 1})),
                    new_event("OrderPriced", json!({"n": 2})),
                ],
            ),
            held,
            request(
                &other,
                ExpectedVersion::Exact(1),
                vec![new_event("Counted", json!({}))],
            ),
        ])
        .await
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!((out[0].stream_version, &out[0].positions), (2, &vec![2, 3]));
    assert_eq!((out[1].stream_version, &out[1].positions), (1, &vec![4]));
    assert_eq!((out[2].stream_version, &out[2].positions), (2, &vec![5]));
    assert!(out.iter().all(|o| !o.deduplicated));
    assert_eq!(s.head_position().await.unwrap(), 5);
    let log = s.read_all(1, 10).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|e| (e.stream_id.as_str(), e.stream_version))
            .collect::<Vec<_>>(),
        vec![
            ("openticketOrder-1", 1),
            ("openticketOrder-1", 2),
            ("openticketSeatSession-1", 1),
            ("counter-1", 2),
        ]
    );
    assert!(
        log.iter().all(|e| e.recorded_at == log[0].recorded_at),
        "one commit, one time"
    );
    assert_eq!(log[0].prev_hash, GENESIS_HASH);
    assert_eq!(log[1].prev_hash, log[0].hash);
    assert_eq!(log[2].prev_hash, GENESIS_HASH);
    let first_counted = s.read_stream(&other, 1, 1).await.unwrap();
    assert_eq!(log[3].prev_hash, first_counted[0].hash);
    // The deadline is stored with its stream's events.
    assert_eq!(stores.deadlines.pending_count().await.unwrap(), 1);
    let stored = stores.deadlines.due_deadlines(due, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].deadline_id, deadline.deadline_id);
    assert_eq!(stored[0].stream_id, seats);

    // A stale expectation on the last stream refuses the whole commit, naming that stream.
    let mut refused = request(
        &seats,
        ExpectedVersion::Exact(1),
        vec![new_event("SeatsReleased", json!({}))],
    );
    refused.deadlines.push(NewDeadline {
        deadline_id: uuid::Uuid::now_v7(),
        kind: "test.expiry".into(),
        due_at: due,
        payload: json!({}),
    });
    let err = s
        .append_streams(vec![
            request(
                &order,
                ExpectedVersion::Exact(2),
                vec![new_event("OrderCancelled", json!({}))],
            ),
            refused,
            request(
                &stream("fresh-1"),
                ExpectedVersion::NoStream,
                vec![new_event("Created", json!({}))],
            ),
            request(
                &other,
                ExpectedVersion::Exact(1),
                vec![new_event("Counted", json!({}))],
            ),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::VersionConflict {
            stream: other.clone(),
            expected: ExpectedVersion::Exact(1),
            actual: 2,
        }
    );
    assert_eq!(s.head_position().await.unwrap(), 5, "nothing written");
    assert_eq!(s.stream_version(&order).await.unwrap(), 2);
    assert_eq!(s.stream_version(&seats).await.unwrap(), 1);
    assert_eq!(s.stream_version(&stream("fresh-1")).await.unwrap(), 0);
    assert_eq!(stores.deadlines.pending_count().await.unwrap(), 1);

    // Malformed commits: refused whole, before anything is written.
    let twice = s
        .append_streams(vec![
            request(
                &order,
                ExpectedVersion::Exact(2),
                vec![new_event("A", json!({}))],
            ),
            request(
                &order,
                ExpectedVersion::Any,
                vec![new_event("B", json!({}))],
            ),
        ])
        .await;
    assert!(
        matches!(twice, Err(StoreError::InvalidRequest(_))),
        "{twice:?}"
    );
    let none = s.append_streams(Vec::new()).await;
    assert!(
        matches!(none, Err(StoreError::InvalidRequest(_))),
        "{none:?}"
    );
    let one_empty = s
        .append_streams(vec![
            request(
                &stream("fresh-2"),
                ExpectedVersion::NoStream,
                vec![new_event("A", json!({}))],
            ),
            request(&stream("fresh-3"), ExpectedVersion::NoStream, Vec::new()),
        ])
        .await;
    assert!(matches!(one_empty, Err(StoreError::InvalidRequest(_))));
    let e = new_event("A", json!({}));
    let shared_id = s
        .append_streams(vec![
            request(&stream("fresh-2"), ExpectedVersion::Any, vec![e.clone()]),
            request(&stream("fresh-3"), ExpectedVersion::Any, vec![e]),
        ])
        .await;
    assert!(matches!(shared_id, Err(StoreError::InvalidRequest(_))));
    assert_eq!(s.head_position().await.unwrap(), 5);
    assert_eq!(s.stream_version(&stream("fresh-2")).await.unwrap(), 0);

    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.events_checked, 5);
}

/// A retried commit returns the original outcomes; one that only partly matches what is stored is
/// not a retry and is refused whole.
async fn multi_stream_dedup(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let (a, b) = (stream("order-1"), stream("seats-1"));
    let batch_a = vec![
        new_event("Placed", json!({})),
        new_event("Priced", json!({})),
    ];
    let batch_b = vec![new_event("Held", json!({}))];
    let commit = || {
        vec![
            request(&a, ExpectedVersion::NoStream, batch_a.clone()),
            request(&b, ExpectedVersion::NoStream, batch_b.clone()),
        ]
    };
    let first = s.append_streams(commit()).await.unwrap();
    s.append(request(
        &b,
        ExpectedVersion::Exact(1),
        vec![new_event("Released", json!({}))],
    ))
    .await
    .unwrap();

    // Retried after success (expected versions now stale): the original outcomes.
    let again = s.append_streams(commit()).await.unwrap();
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|o| o.deduplicated));
    assert_eq!(again[0].positions, first[0].positions);
    assert_eq!(again[1].positions, first[1].positions);
    assert_eq!((again[0].stream_version, again[1].stream_version), (2, 1));
    assert_eq!(s.head_position().await.unwrap(), 4);

    // One request stored, the other new: not a retry of the same commit.
    let err = s
        .append_streams(vec![
            request(&a, ExpectedVersion::Any, batch_a.clone()),
            request(
                &stream("seats-2"),
                ExpectedVersion::Any,
                vec![new_event("Held", json!({}))],
            ),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateEventId { ref stored_in, .. } if *stored_in == a),
        "{err:?}"
    );
    // Part of one batch stored.
    let err = s
        .append_streams(vec![
            request(
                &a,
                ExpectedVersion::Any,
                vec![batch_a[0].clone(), new_event("Other", json!({}))],
            ),
            request(&b, ExpectedVersion::Any, batch_b.clone()),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateEventId { .. }),
        "{err:?}"
    );
    // Stored ids sent to other streams.
    let err = s
        .append_streams(vec![
            request(&b, ExpectedVersion::Any, batch_a.clone()),
            request(&a, ExpectedVersion::Any, batch_b.clone()),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateEventId { .. }),
        "{err:?}"
    );
    assert_eq!(
        s.head_position().await.unwrap(),
        4,
        "refused commits wrote nothing"
    );
    assert_eq!(s.stream_version(&stream("seats-2")).await.unwrap(), 0);
}

/// Twelve concurrent copies of one multi-stream commit: exactly one writes, the others get its
/// outcomes (on PostgreSQL they wait on the stream locks and find its events).
async fn multi_stream_concurrent_retries(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let (a, b) = (stream("order-9"), stream("seats-9"));
    s.append(request(
        &b,
        ExpectedVersion::NoStream,
        vec![new_event("Opened", json!({}))],
    ))
    .await
    .unwrap();
    let commit = vec![
        request(
            &b,
            ExpectedVersion::Exact(1),
            vec![new_event("Held", json!({}))],
        ),
        request(
            &a,
            ExpectedVersion::NoStream,
            vec![new_event("Placed", json!({}))],
        ),
    ];
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (s, commit) = (s.clone(), commit.clone());
        tasks.push(tokio::spawn(async move { s.append_streams(commit).await }));
    }
    let mut written = 0;
    for t in tasks {
        let out = t
            .await
            .unwrap()
            .expect("a retry of the same commit never conflicts");
        assert_eq!(out[0].positions, vec![2]);
        assert_eq!(out[1].positions, vec![3]);
        if !out[0].deduplicated {
            written += 1;
        }
        assert_eq!(out[0].deduplicated, out[1].deduplicated);
    }
    assert_eq!(written, 1);
    assert_eq!(s.head_position().await.unwrap(), 3);
}

/// Twelve writers each commit 10 times to two of four shared streams, taken in both orders (the
/// classic deadlock shape), re-reading versions after a conflict; a live subscriber follows. No
/// commit is lost or half-applied, each commit's events are contiguous in the log, and every
/// stream's version is the number of commits that touched it.
async fn multi_stream_overlapping(db: Arc<TestDb>) {
    const WRITERS: usize = 12;
    const COMMITS: usize = 10;
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let names = ["pool-a", "pool-b", "pool-c", "pool-d"];
    let total = (WRITERS * COMMITS * 2) as u64;

    let subscriber = {
        let s = s.clone();
        tokio::spawn(async move {
            let mut sub = Subscription::new(s, 0).with_batch_size(5);
            let mut seen = Vec::new();
            while (seen.len() as u64) < total {
                let e = tokio::time::timeout(Duration::from_secs(60), sub.next())
                    .await
                    .expect("subscriber stalled")
                    .unwrap();
                seen.push(e);
            }
            seen
        })
    };
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut touched = BTreeMap::<&str, u64>::new();
            let mut conflicts = 0;
            for i in 0..COMMITS {
                // Writer w pairs streams (w + i) and (w + i + 1 + w % 3), in an order that
                // alternates, so writers lock overlapping pairs in opposite orders.
                let x = names[(w + i) % 4];
                let y = names[(w + i + 1 + w % 3) % 4];
                let (first, second) = if (w + i) % 2 == 0 { (x, y) } else { (y, x) };
                loop {
                    let (sf, ss) = (stream(first), stream(second));
                    let vf = s.stream_version(&sf).await.unwrap();
                    let vs = s.stream_version(&ss).await.unwrap();
                    let commit = vec![
                        request(
                            &sf,
                            ExpectedVersion::Exact(vf),
                            vec![new_event("Took", json!({"w": w, "i": i, "after": vf}))],
                        ),
                        request(
                            &ss,
                            ExpectedVersion::Exact(vs),
                            vec![new_event("Gave", json!({"w": w, "i": i, "after": vs}))],
                        ),
                    ];
                    match s.append_streams(commit).await {
                        Ok(out) => {
                            assert_eq!(out[0].positions[0] + 1, out[1].positions[0]);
                            break;
                        }
                        Err(StoreError::VersionConflict { .. }) => conflicts += 1,
                        Err(e) => panic!("unexpected error (a deadlock?): {e}"),
                    }
                }
                *touched.entry(first).or_default() += 1;
                *touched.entry(second).or_default() += 1;
            }
            (touched, conflicts)
        }));
    }
    let mut expected = BTreeMap::<&str, u64>::new();
    let mut conflicts = 0;
    for t in tasks {
        let (touched, c) = t.await.unwrap();
        conflicts += c;
        for (k, v) in touched {
            *expected.entry(k).or_default() += v;
        }
    }
    for name in names {
        assert_eq!(
            s.stream_version(&stream(name)).await.unwrap(),
            expected.get(name).copied().unwrap_or(0),
            "no lost update on {name}"
        );
    }
    let seen = subscriber.await.unwrap();
    let positions: Vec<u64> = seen.iter().map(|e| e.global_position).collect();
    assert_eq!(positions, (1..=total).collect::<Vec<_>>());
    for pair in seen.chunks(2) {
        assert_eq!(pair[0].event_type, "Took");
        assert_eq!(pair[1].event_type, "Gave");
        assert_eq!(
            (&pair[0].data["w"], &pair[0].data["i"]),
            (&pair[1].data["w"], &pair[1].data["i"]),
            "a commit is contiguous in the log"
        );
        for e in pair {
            assert_eq!(
                Some(e.stream_version - 1),
                e.data["after"].as_u64(),
                "each event was decided against the version before it (no lost update)"
            );
        }
    }
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    println!("{conflicts} conflicts retried");
}

/// Whether the events after `after` show two appends that shared one commit (group commit gives
/// every event of a transaction the same `recorded_at`; two commits in a row never share one).
async fn saw_a_shared_commit(s: &Arc<dyn tessera_application::EventStore>, after: u64) -> bool {
    let events = s.read_all(after, 10_000).await.unwrap();
    let mut streams_per_commit: BTreeMap<_, HashSet<String>> = BTreeMap::new();
    for e in &events {
        streams_per_commit
            .entry(e.recorded_at)
            .or_default()
            .insert(e.stream_id.to_string());
    }
    streams_per_commit.values().any(|streams| streams.len() > 1)
}

/// Group commit (docs/decisions/0034-group-commit.md): 32 concurrent appenders per round, among
/// them appends with a wrong expected version and appends re-using an event id stored in another
/// stream. Only those fail, with their own errors, and write nothing; the others commit with
/// contiguous positions; appends to one shared stream in the same group chain their hashes; and at
/// least one round really shared a commit.
async fn group_commit_fails_alone(db: Arc<TestDb>) {
    const WRITERS: usize = 32;
    const ROUNDS: usize = 6;
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let taken = new_event("Taken", json!({}));
    s.append(request(
        &stream("taken-1"),
        ExpectedVersion::NoStream,
        vec![taken.clone()],
    ))
    .await
    .unwrap();

    let mut grouped_rounds = 0;
    for round in 0..ROUNDS {
        let before = s.head_position().await.unwrap();
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let (s, taken) = (s.clone(), taken.clone());
            tasks.push(tokio::spawn(async move {
                let own = stream(&format!("group{round}-{w}"));
                let (target, expected, events) = match w % 8 {
                    3 => (
                        own,
                        ExpectedVersion::Exact(7),
                        vec![new_event("A", json!({"w": w}))],
                    ),
                    5 => (
                        own,
                        ExpectedVersion::NoStream,
                        vec![new_event("A", json!({"w": w})), taken],
                    ),
                    6 => (
                        stream("sharedgroup-1"),
                        ExpectedVersion::Any,
                        vec![new_event("S", json!({"w": w})), new_event("T", json!({}))],
                    ),
                    _ => (
                        own,
                        ExpectedVersion::NoStream,
                        vec![new_event("A", json!({"w": w})), new_event("B", json!({}))],
                    ),
                };
                let result = s.append(request(&target, expected, events)).await;
                (w, target, result)
            }));
        }
        let mut positions = Vec::new();
        for t in tasks {
            let (w, target, result) = t.await.unwrap();
            match w % 8 {
                3 => {
                    assert_eq!(
                        result,
                        Err(StoreError::VersionConflict {
                            stream: target.clone(),
                            expected: ExpectedVersion::Exact(7),
                            actual: 0
                        })
                    );
                    assert_eq!(s.stream_version(&target).await.unwrap(), 0);
                }
                5 => {
                    assert_eq!(
                        result,
                        Err(StoreError::DuplicateEventId {
                            event_id: taken.event_id,
                            stored_in: stream("taken-1")
                        })
                    );
                    assert_eq!(s.stream_version(&target).await.unwrap(), 0);
                }
                _ => {
                    let out = result.unwrap_or_else(|e| panic!("writer {w} failed: {e}"));
                    assert!(!out.deduplicated);
                    positions.extend(out.positions);
                }
            }
        }
        positions.sort_unstable();
        let after = s.head_position().await.unwrap();
        assert_eq!(
            positions,
            (before + 1..=after).collect::<Vec<_>>(),
            "accepted appends take contiguous positions; refused ones take none"
        );
        if saw_a_shared_commit(&s, before).await {
            grouped_rounds += 1;
        }
    }
    // The KurrentDB adapter commits one append at a time (docs/decisions/0037): only the
    // ordering and isolation half of this case applies to it.
    assert!(
        grouped_rounds > 0 || db.is_kurrentdb(),
        "no two appends ever shared a commit"
    );
    assert_eq!(
        s.stream_version(&stream("sharedgroup-1")).await.unwrap(),
        (ROUNDS * WRITERS / 8 * 2) as u64
    );
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

/// A reader following the log while groups commit (some with refused appends in them) sees
/// positions 1, 2, 3, … with no gap at any moment: a group never becomes visible before the
/// groups with lower positions, and refused appends leave no hole.
async fn group_commit_live_reader(db: Arc<TestDb>) {
    const WRITERS: usize = 24;
    const APPENDS: usize = 8;
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));

    let reader = {
        let (s, done) = (s.clone(), done.clone());
        tokio::spawn(async move {
            let mut after = 0u64;
            let mut ids = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let batch = s.read_all(after, 64).await.unwrap();
                for e in &batch {
                    assert_eq!(
                        e.global_position,
                        after + 1,
                        "the reader saw a gap: position {} after {after}",
                        e.global_position
                    );
                    after = e.global_position;
                    ids.push(e.event_id);
                }
                if batch.is_empty() {
                    if finished && after == s.head_position().await.unwrap() {
                        return ids;
                    }
                    s.wait_for_append(after, Duration::from_millis(50))
                        .await
                        .unwrap();
                }
            }
        })
    };

    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let own = stream(&format!("live-{w}"));
            let mut version = 0;
            let mut written = Vec::new();
            for i in 0..APPENDS {
                let events: Vec<_> = (0..1 + (w + i) % 3)
                    .map(|_| new_event("L", json!({"w": w, "i": i})))
                    .collect();
                // Every third writer also sends an append with a stale version each time.
                if w % 3 == 0 && version > 0 {
                    let stale = s
                        .append(request(
                            &own,
                            ExpectedVersion::Exact(version - 1),
                            vec![new_event("Stale", json!({}))],
                        ))
                        .await;
                    assert!(matches!(stale, Err(StoreError::VersionConflict { .. })));
                }
                let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
                let out = s
                    .append(request(&own, ExpectedVersion::Exact(version), events))
                    .await
                    .unwrap();
                version = out.stream_version;
                written.extend(ids);
            }
            written
        }));
    }
    let mut written = HashSet::new();
    for t in tasks {
        written.extend(t.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();
    assert_eq!(seen.len(), written.len(), "every event seen exactly once");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), written);
}

/// The same commit sent twice at once (a client retry racing the original) and, for one stream,
/// a multi-stream commit racing its own retry: whether both land in one group or in two, one
/// writes and the other gets the original outcome back (`deduplicated`); nothing is stored twice.
/// A later retry is deduplicated too.
async fn group_commit_dedup(db: Arc<TestDb>) {
    const COMMITS: usize = 16;
    const ROUNDS: usize = 4;
    let (_db, stores) = db.stores().await;
    let s = stores.events;
    let mut grouped_rounds = 0;
    let mut all = Vec::new();
    for round in 0..ROUNDS {
        let before = s.head_position().await.unwrap();
        let commits: Vec<Vec<AppendRequest>> = (0..COMMITS)
            .map(|c| {
                let one = request(
                    &stream(&format!("retry{round}-{c}")),
                    ExpectedVersion::NoStream,
                    vec![new_event("R", json!({"c": c})), new_event("S", json!({}))],
                );
                if c == 0 {
                    let other = request(
                        &stream(&format!("retrypair{round}-{c}")),
                        ExpectedVersion::NoStream,
                        vec![new_event("P", json!({}))],
                    );
                    vec![one, other]
                } else {
                    vec![one]
                }
            })
            .collect();
        let mut tasks = Vec::new();
        for commit in &commits {
            for _ in 0..2 {
                let (s, commit) = (s.clone(), commit.clone());
                tasks.push(tokio::spawn(async move { s.append_streams(commit).await }));
            }
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap().unwrap());
        }
        for pair in results.chunks(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert_eq!(
                a.iter().filter(|o| o.deduplicated).count()
                    + b.iter().filter(|o| o.deduplicated).count(),
                a.len(),
                "exactly one of the two writes: {a:?} {b:?}"
            );
            for (x, y) in a.iter().zip(b) {
                assert_eq!(
                    (x.stream_version, &x.positions),
                    (y.stream_version, &y.positions)
                );
            }
        }
        let stored = s.read_all(before, 10_000).await.unwrap();
        assert_eq!(stored.len(), COMMITS * 2 + 1, "each commit stored once");
        if saw_a_shared_commit(&s, before).await {
            grouped_rounds += 1;
        }
        all.extend(commits.into_iter().zip(results.into_iter().step_by(2)));
    }
    // The KurrentDB adapter commits one append at a time (docs/decisions/0037): only the
    // ordering and isolation half of this case applies to it.
    assert!(
        grouped_rounds > 0 || db.is_kurrentdb(),
        "no two appends ever shared a commit"
    );
    let head = s.head_position().await.unwrap();
    for (commit, first) in all {
        let again = s.append_streams(commit).await.unwrap();
        assert!(again.iter().all(|o| o.deduplicated));
        for (x, y) in again.iter().zip(&first) {
            assert_eq!(
                (x.stream_version, &x.positions),
                (y.stream_version, &y.positions)
            );
        }
    }
    assert_eq!(s.head_position().await.unwrap(), head);
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}
