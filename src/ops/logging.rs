//! Logs on stderr (stdout carries only the ready line): JSON by default, text for a terminal.
//! `RUST_LOG` filters; default `info`. Each line carries the current span, so request lines
//! include `request_id`, `trace_id`, method and path, then `partner` and `route` once known.
//!
//! Lines go through a non-blocking writer: a request thread only queues its line, and a dedicated
//! thread writes. When the queue is full (a stalled sink) lines are dropped and counted
//! (`log_lines_dropped_total`) rather than stalling requests: logging never blocks the request path.
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{fmt, EnvFilter};

/// Lines the writer may hold before it drops: about a second of a busy gateway's logs.
const QUEUE_LINES: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Installs the subscriber. Keep the guard alive for the process: dropping it flushes the queue.
pub fn init(format: LogFormat) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUE_LINES)
        .lossy(true)
        .finish(std::io::stderr());
    crate::ops::metrics::watch_dropped_log_lines(writer.error_counter());
    let builder = fmt().with_env_filter(filter).with_writer(writer);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
    installed.ok().map(|()| guard)
}
