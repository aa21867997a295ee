//! OpenTelemetry trace export over OTLP/HTTP (`[telemetry] otlp_endpoint`; off by default).
//!
//! The `tracing` spans (the partner request, each upstream attempt, a changes scan, a webhook
//! delivery) are exported through `tracing-opentelemetry` by a batch processor on its own thread,
//! so a slow collector never stalls a request (a full queue drops spans). The exported ids are the
//! ones the gateway already uses on the wire (`ops::trace_context`): a request's span is the one
//! named in `traceresponse`, its parent the partner's `traceparent` parent, and each upstream
//! attempt's span the parent id Dataverse received. The SDK draws ids from its `IdGenerator`
//! when a span starts; [`start`] starts a span at once with the ids reserved for it.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::TelemetryConfig;
use crate::ops::trace_context::TraceContext;

/// Whether spans are exported: only then are upstream attempts given spans of their own.
static ENABLED: AtomicBool = AtomicBool::new(false);

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

thread_local! {
    /// The ids the next span started on this thread takes (set only around [`start`]).
    static RESERVED: Cell<Option<(u128, u64)>> = const { Cell::new(None) };
}

/// Hands out reserved ids (see [`start`]), random ones otherwise.
#[derive(Debug, Default)]
struct ReservedIds(RandomIdGenerator);

impl IdGenerator for ReservedIds {
    fn new_trace_id(&self) -> TraceId {
        match RESERVED.get() {
            Some((trace, _)) => TraceId::from_bytes(trace.to_be_bytes()),
            None => self.0.new_trace_id(),
        }
    }

    fn new_span_id(&self) -> SpanId {
        match RESERVED.get() {
            Some((_, span)) => SpanId::from_bytes(span.to_be_bytes()),
            None => self.0.new_span_id(),
        }
    }
}

/// Starts the gateway's span of `cx` (a partner request, a changes scan, a webhook delivery):
/// the span named by `cx`'s span id, its parent the caller's span from `traceparent` (remote) if
/// there was one, else a new trace with `cx`'s trace id. No-op when export is off.
pub fn start_root(span: &tracing::Span, cx: &TraceContext) {
    if !enabled() || span.is_disabled() {
        return;
    }
    let (trace_id, span_id, remote_parent) = cx.ids();
    if let Some(parent) = remote_parent {
        let flags = if cx.sampled() {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let remote = SpanContext::new(
            TraceId::from_bytes(trace_id.to_be_bytes()),
            SpanId::from_bytes(parent.to_be_bytes()),
            flags,
            true,
            TraceState::default(),
        );
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    start_as(span, trace_id, span_id);
}

/// Starts `span` (created inside the gateway's span, or alone for a call outside any) as
/// `span_id` in `cx`'s trace. No-op when export is off.
pub fn start_child(span: &tracing::Span, cx: &TraceContext, span_id: u64) {
    if !enabled() || span.is_disabled() {
        return;
    }
    start_as(span, cx.ids().0, span_id);
}

fn start_as(span: &tracing::Span, trace_id: u128, span_id: u64) {
    RESERVED.set(Some((trace_id, span_id)));
    // Builds and starts the span: the SDK asks the id generator now, on this thread.
    let _ = span.context();
    RESERVED.set(None);
}

/// The `tracing` layer that turns spans into exported OpenTelemetry spans.
pub type SpanLayer<S> =
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>;

/// The exporter and the `tracing` layer feeding it; `None` when `otlp_endpoint` is empty. The
/// provider must be shut down at exit (flushing queued spans): `ops::logging::Guard` does.
pub fn layer<S>(cfg: &TelemetryConfig) -> Result<Option<(SpanLayer<S>, SdkTracerProvider)>, String>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let base = cfg.otlp_endpoint.trim().trim_end_matches('/');
    if base.is_empty() {
        return Ok(None);
    }
    let url = url::Url::parse(base).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(format!("{base}/v1/traces"))
        .build()
        .map_err(|e| e.to_string())?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_id_generator(ReservedIds::default())
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(cfg.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("ats-gateway");
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Some((
        tracing_opentelemetry::layer().with_tracer(tracer),
        provider,
    )))
}
