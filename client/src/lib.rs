//! The `khulasa` command-line client, a package of its own so the server's
//! dependency tree carries none of its plotting and benchmarking crates.
//!
//! `src/main.rs` only parses arguments and calls [`run`]; everything
//! else lives here so it can be unit-tested:
//! [`cli`] (arguments) → [`endpoints`] (channels, balancing, retries) →
//! [`batch`] (input, resume, writer) / [`render`] (text output) /
//! [`bench`] (load generator and report), with
//! [`record`] defining every JSON shape the client prints or writes.

pub mod batch;
pub mod bench;
pub mod cli;
mod credentials;
pub mod endpoints;
pub mod record;
pub mod render;

use std::{io::IsTerminal, io::Read, process::ExitCode};

use anyhow::{bail, Context, Result};

pub use cli::Cli;
use cli::{AnalyzeArgs, Command, InfoArgs};
use endpoints::Pool;
use record::{InfoRecord, OutputRecord};

/// Runs one command. `Ok` carries the exit status for outcomes that are not
/// errors of the client itself (unhealthy server, failed batch items); `Err`
/// means exit 1 with the error printed.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let options = credentials::connect_options(&cli)?;
    let urls = endpoints::normalize_all(&cli.endpoints, options.tls.is_some())?;
    let pool = Pool::new(urls.clone(), options)?;
    match cli.command {
        Command::Analyze(args) => analyze(&args, &pool).await,
        Command::Batch(args) => batch::run(&args, &pool).await,
        Command::Health => health(&pool).await,
        Command::Info(args) => info(&args, &pool).await,
        // Measures one endpoint without retries or balancing, so not via the pool.
        Command::Bench(args) => bench::run(&args, &urls[0], cli.timeout).await,
    }
}

/// Colour only for a terminal, and never when NO_COLOR is set
/// (<https://no-color.org>).
fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

async fn analyze(args: &AnalyzeArgs, pool: &Pool) -> Result<ExitCode> {
    let (id, bytes) = if args.file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        ("stdin".to_string(), buf)
    } else {
        let bytes = std::fs::read(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?;
        (args.file.display().to_string(), bytes)
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{id} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;

    let request = args
        .options
        .request(id, text.clone(), None, args.title.clone());
    let response = pool.analyze(request).await?;
    let record = match OutputRecord::from_response(response) {
        OutputRecord::Success(s) => s,
        OutputRecord::Error(e) => {
            bail!("{} ({}): {}", e.error.status, e.error.code, e.error.message)
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&record)?);
    } else {
        let entities_requested =
            args.options.tasks.is_empty() || args.options.tasks.contains(&cli::TaskArg::Entities);
        print!(
            "{}",
            render::analysis(&record, &text, entities_requested, use_color())
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn health(pool: &Pool) -> Result<ExitCode> {
    let rows = pool.health().await;
    print!("{}", render::health(&rows));
    let all_serving = rows
        .iter()
        .all(|(_, overall, service)| overall.is_serving() && service.is_serving());
    Ok(if all_serving {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn info(args: &InfoArgs, pool: &Pool) -> Result<ExitCode> {
    let (url, response) = pool.get_info().await?;
    let record = InfoRecord::from_response(url, response);
    if args.json {
        println!("{}", serde_json::to_string(&record)?);
    } else {
        print!("{}", render::info(&record));
    }
    Ok(ExitCode::SUCCESS)
}
