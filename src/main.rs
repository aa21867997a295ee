use clap::Parser;

use ats_gateway::cli::{run, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    ats_gateway::ops::logging::init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
