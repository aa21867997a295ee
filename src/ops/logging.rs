//! JSON logs on stderr (stdout carries only the ready line). `RUST_LOG` filters; default `info`.
//! Each line carries the current span, so request lines include `request_id`, method and path.
use tracing_subscriber::{fmt, EnvFilter};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
