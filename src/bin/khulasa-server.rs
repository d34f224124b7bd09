//! `khulasa-server`: the gRPC service.

use std::process::ExitCode;

use clap::Parser;
use khulasa::transport::{self, ServerArgs, Telemetry};

fn main() -> ExitCode {
    let args = ServerArgs::parse();
    // Before any thread starts: arenas are made per thread on first use.
    khulasa::memory::tune_malloc();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let telemetry = {
        // The OTLP exporter's connection lives on the runtime.
        let _runtime = runtime.enter();
        match Telemetry::init(args.log_format, args.otlp_endpoint.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    };
    let result = runtime.block_on(transport::run(args));
    telemetry.shutdown();
    // Don't wait for blocking work still running past the drain deadline.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
