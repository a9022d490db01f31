#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Traces over OTLP/HTTP (docs/operations.md, "Traces"; docs/decisions/0036-traces-over-otlp.md):
//! a receiver in this test (axum, `POST /v1/traces`, protobuf bodies decoded with
//! `opentelemetry-proto`) gets, from a real server on a SQLite file, the request span of a real
//! HTTP call with its route template and status, and the command-batch and append spans below it,
//! all sent by the flush at shutdown. The subscriber is process-wide, hence a test binary of its own.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use libtest_mimic::{Arguments, Failed, Trial};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost014::Message;
use std::sync::{Arc, Mutex};
use tessera_api::config::TracesConfig;
use tessera_tests::http::TestServer;
use tessera_tests::{Backend, TestDb};

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let trials = vec![Trial::test(
        "sqlite::request_span_with_route_status_and_command_children",
        || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build()
                .map_err(|e| Failed::from(e.to_string()))?
                .block_on(request_span_exported());
            Ok(())
        },
    )];
    libtest_mimic::run(&args, trials).exit_code()
}

type Received = Arc<Mutex<Vec<Span>>>;

/// The receiver: every span of every export request, in arrival order.
async fn traces(
    State(received): State<Received>,
    body: Bytes,
) -> impl axum::response::IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    let mut spans = received.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource.resource.as_ref().and_then(|r| {
            r.attributes
                .iter()
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.clone()?.value)
        });
        assert_eq!(service, Some(Any::StringValue("tessera-test".into())));
        for scope in resource.scope_spans {
            spans.extend(scope.spans);
        }
    }
    (StatusCode::OK, Vec::new())
}

fn attribute(span: &Span, key: &str) -> Option<Any> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone()?.value)
}

/// Whether `ancestor` is `span`'s parent, grandparent, … among `all`.
fn descends_from(span: &Span, ancestor: &Span, all: &[Span]) -> bool {
    let mut parent = span.parent_span_id.clone();
    while !parent.is_empty() {
        if parent == ancestor.span_id {
            return true;
        }
        parent = all
            .iter()
            .find(|s| s.span_id == parent)
            .map(|s| s.parent_span_id.clone())
            .unwrap_or_default();
    }
    false
}

async fn request_span_exported() {
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(traces))
        .with_state(received.clone())
        .layer(axum::middleware::map_response(
            |mut r: axum::response::Response| async move {
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/x-protobuf"),
                );
                r
            },
        ));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let telemetry = tessera_api::telemetry::init_with(
        "warn",
        "text",
        &TracesConfig {
            otlp_endpoint: Some(receiver),
            service_name: "tessera-test".into(),
            ..TracesConfig::default()
        },
    );
    assert!(tessera_api::telemetry::exporting());

    let db = TestDb::create(Backend::Sqlite).await;
    let t = TestServer::start(&db).await;
    // Registration, then sign-in: its refresh-token family is appended through the command runner.
    let (_, token) = t.customer("traced@example.com").await;
    assert!(!token.is_empty());
    t.stop().await;
    // Nothing was sent yet (the batch waits seconds); shutdown flushes the queue.
    telemetry.shutdown().await;
    db.cleanup().await;

    let spans = received.lock().unwrap().clone();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let login = spans
        .iter()
        .find(|s| {
            s.name == "request"
                && attribute(s, "http.route") == Some(Any::StringValue("/v1/auth/login".into()))
        })
        .unwrap_or_else(|| panic!("no request span for /v1/auth/login among {names:?}"));
    assert_eq!(
        attribute(login, "http.response.status_code"),
        Some(Any::IntValue(200))
    );
    assert_eq!(
        attribute(login, "method"),
        Some(Any::StringValue("POST".into()))
    );
    let below: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == login.trace_id && descends_from(s, login, &spans))
        .collect();
    let batch = below
        .iter()
        .find(|s| s.name == "command_batch")
        .unwrap_or_else(|| panic!("no command_batch span below the request span: {names:?}"));
    assert_eq!(
        attribute(batch, "aggregate"),
        Some(Any::StringValue("refreshFamily".into()))
    );
    // tracing-opentelemetry writes u64 fields as strings (they may not fit an OTLP int).
    let events = match attribute(batch, "events") {
        Some(Any::IntValue(n)) => n,
        Some(Any::StringValue(n)) => n.parse().unwrap_or(0),
        _ => 0,
    };
    assert!(events >= 1, "{:?}", batch.attributes);
    assert!(
        below
            .iter()
            .any(|s| s.name == "append_streams" && descends_from(s, batch, &spans)),
        "no append span below the command batch: {names:?}"
    );
}
