use clap::Parser;

use ats_gateway::cli::{run, Cli};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // `[telemetry]` before the subscriber is installed; an unloadable config is reported by the
    // command itself.
    let telemetry = ats_gateway::config::Config::load(cli.config.as_deref())
        .ok()
        .map(|c| c.telemetry);
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
