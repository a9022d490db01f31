//! The one place that sets up tracing: the log (stderr, text or JSON) and, when an OTLP endpoint is
//! set, span export over OTLP/HTTP with protobuf bodies (docs/decisions/0036-traces-over-otlp.md).
//!
//! Each output has its own filter: `TESSERA_LOG` for the log, `TESSERA_TRACE_FILTER` for the
//! exported spans. The command-batch and projection-batch spans are DEBUG, so with export off and
//! the default log filter their call sites are disabled once and cost nothing per request.

use crate::config::TracesConfig;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Whether spans are exported (set once by [`init_with`]); the request middleware adds the route
/// template and status to the request span only then.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports spans over OTLP.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// What [`init_with`] installed; [`Telemetry::shutdown`] sends the spans still queued.
#[must_use = "call `shutdown` at exit so that queued spans are sent"]
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Export the spans still queued and stop the exporter (a no-op when nothing is exported).
    /// Runs the SDK's blocking shutdown on a blocking thread, so call it from async code.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "traces: flushing the exporter failed"),
            Err(e) => tracing::warn!(error = %e, "traces: the flushing task failed"),
        }
    }
}

/// Install the global subscriber: `filter` in `EnvFilter` syntax, `format` `json` or text. Logs go to
/// stderr so that `tessera events export` can write JSON lines to stdout. No span export.
pub fn init(filter: &str, format: &str) {
    let _no_export = init_with(filter, format, &TracesConfig::default());
}

/// [`init`], plus span export over OTLP/HTTP (protobuf) when `traces.otlp_endpoint` is set. The
/// batch span processor runs on the current Tokio runtime, so with an endpoint this must be called
/// inside one. A second call in one process (tests) keeps the first subscriber and exports nothing.
pub fn init_with(filter: &str, format: &str, traces: &TracesConfig) -> Telemetry {
    let log_filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log = if format == "json" {
        log.json().with_filter(log_filter).boxed()
    } else {
        log.with_filter(log_filter).boxed()
    };
    let (provider, problem) = match exporter(traces) {
        Ok(p) => (p, None),
        Err(problem) => (None, Some(problem)),
    };
    let export = provider.as_ref().map(|provider| {
        let trace_filter =
            EnvFilter::try_new(&traces.filter).unwrap_or_else(|_| EnvFilter::new("info"));
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("tessera"))
            .with_filter(trace_filter)
    });
    if tracing_subscriber::registry()
        .with(log)
        .with(export)
        .try_init()
        .is_err()
    {
        // Another subscriber was first: these spans would go nowhere.
        if let Some(p) = provider {
            let _ = p.shutdown();
        }
        return Telemetry::default();
    }
    if let Some(problem) = problem {
        tracing::warn!("traces: {problem}; no spans are exported");
    }
    if let Some(endpoint) = &traces.otlp_endpoint
        && provider.is_some()
    {
        EXPORTING.store(true, Ordering::Relaxed);
        tracing::info!(endpoint = %endpoint, service = %traces.service_name, "traces: exporting over OTLP/HTTP");
    }
    Telemetry { provider }
}

/// The tracer provider exporting to `traces.otlp_endpoint`, or `None` when it is unset.
fn exporter(traces: &TracesConfig) -> Result<Option<SdkTracerProvider>, String> {
    let Some(endpoint) = traces.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    if traces.protocol != "http/protobuf" {
        return Err(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL `{}` is not offered (only `http/protobuf`)",
            traces.protocol
        ));
    }
    if tokio::runtime::Handle::try_current().is_err() {
        return Err("span export needs a Tokio runtime".into());
    }
    // The generic endpoint names the receiver; the traces signal has its own path (OTLP spec).
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(url)
        .with_http_client(reqwest::Client::new())
        .build()
        .map_err(|e| format!("cannot build the OTLP exporter: {e}"))?;
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    let resource = Resource::builder()
        .with_service_name(traces.service_name.clone())
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource)
            .build(),
    ))
}
