//! Logs on stderr (stdout carries only the ready line): JSON by default, text for a terminal.
//! `RUST_LOG` filters; default `info`. Each line carries the current span, so request lines
//! include `request_id`, `trace_id`, method and path, then `partner` and `route` once known.
//!
//! Lines go through a non-blocking writer: a request thread only queues its line, and a dedicated
//! thread writes. When the queue is full (a stalled sink) lines are dropped and counted
//! (`log_lines_dropped_total`) rather than stalling requests: logging never blocks the request path.
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{fmt, EnvFilter};

/// A request path for the log and for problem `instance`s: an invite link's token
/// (`/onboarding/{token}`) is a credential, so it is never written out.
pub fn loggable_path(path: &str) -> &str {
    if path.starts_with("/onboarding/") {
        "/onboarding/{token}"
    } else {
        path
    }
}

/// Lines the writer may hold before it drops: about a second of a busy gateway's logs.
const QUEUE_LINES: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// What `init` leaves running: the log writer's queue and, when exporting, the span exporter.
/// Keep it for the life of the process: dropping it flushes both.
pub struct Guard {
    _log: WorkerGuard,
    tracer: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(p) = self.tracer.take() {
            // Exports what is still queued (bounded by the exporter's timeout).
            if let Err(e) = p.shutdown() {
                eprintln!("telemetry: span export did not finish at exit ({e})");
            }
        }
    }
}

/// Installs the subscriber: the log lines, and the OTLP span export when `telemetry` names an
/// endpoint. `Err` names what is wrong with `[telemetry]`; `Ok(None)` when a subscriber was
/// already installed.
pub fn init(
    format: LogFormat,
    telemetry: Option<&crate::config::TelemetryConfig>,
) -> Result<Option<Guard>, String> {
    init_at(format, telemetry, "info")
}

/// `init` with another level when `RUST_LOG` is unset: `doctor` uses `warn`, so its output is the
/// checklist and nothing else.
pub fn init_at(
    format: LogFormat,
    telemetry: Option<&crate::config::TelemetryConfig>,
    default_level: &str,
) -> Result<Option<Guard>, String> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUE_LINES)
        .lossy(true)
        // Buffered: the worker writes every line it finds queued, then flushes, so a burst of
        // request lines is one write instead of one each (no line waits for a later one).
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    crate::ops::metrics::watch_dropped_log_lines(writer.error_counter());
    let lines = match format {
        LogFormat::Json => fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .boxed(),
        LogFormat::Text => fmt::layer().with_ansi(false).with_writer(writer).boxed(),
    };
    let (spans, tracer) = match telemetry {
        Some(cfg) => match crate::ops::telemetry::layer(cfg)
            .map_err(|e| format!("telemetry.otlp_endpoint: {e}"))?
        {
            Some((layer, provider)) => (Some(layer), Some(provider)),
            None => (None, None),
        },
        None => (None, None),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(spans)
        .try_init();
    Ok(installed.ok().map(|()| Guard {
        _log: guard,
        tracer,
    }))
}
