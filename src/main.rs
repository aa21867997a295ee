use clap::Parser;

use ats_gateway::cli::{run, Cli};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Read before the runtime is built (`[gateway] worker_threads`) and the subscriber installed
    // (`[telemetry]`); an unloadable config is reported by the command itself.
    let config = ats_gateway::config::Config::load(cli.config.as_deref()).ok();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = config
        .as_ref()
        .and_then(|c| c.gateway.workers().ok().flatten())
    {
        runtime.worker_threads(n);
    }
    let runtime = match runtime.build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime ({e})");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(start(cli, config.map(|c| c.telemetry)))
}

async fn start(
    cli: Cli,
    telemetry: Option<ats_gateway::config::TelemetryConfig>,
) -> std::process::ExitCode {
    // Held to the end of main: dropping it flushes the queued log lines and spans.
    // `doctor` prints a checklist: routine info lines would land in the middle of it.
    let level = match cli.command {
        Some(ats_gateway::cli::Command::Doctor { .. }) => "warn",
        _ => "info",
    };
    let _log_guard =
        match ats_gateway::ops::logging::init_at(cli.log_format, telemetry.as_ref(), level) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("error: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
