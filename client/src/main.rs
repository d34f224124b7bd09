//! `khulasa`: command-line client of the Khulasa summarization service.
//! All the work is in [`khulasa_client`]; this only wires up the process.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = khulasa_client::Cli::parse();
    // Logs go to stderr so they never mix with results on stdout.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match khulasa_client::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("khulasa: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
