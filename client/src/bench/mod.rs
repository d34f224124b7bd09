//! `khulasa bench`: drives a server (or the in-process pipeline) with N
//! closed-loop clients over an article corpus at several concurrency levels
//! and reports latency percentiles, throughput and memory, plus the ratios
//! the performance targets are stated in (gRPC over in-process, config A
//! over config B, long articles over short ones). Ratios, because the
//! machines are shared and an absolute time means little; for the same
//! reason the subjects are measured interleaved, level by level.
//!
//! [`args`] (flags) → [`corpus`] (articles) → [`driver`] (load) over a
//! [`grpc`] or [`raw`] target, [`server`] (spawned servers), [`procfs`]
//! (memory) → [`report`] (Markdown, JSON) and [`plot`] (PNG).

pub mod args;
pub mod corpus;
pub mod driver;
pub mod grpc;
pub mod plot;
pub mod procfs;
pub mod raw;
pub mod report;
pub mod server;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use anyhow::{bail, Context, Result};

pub use args::BenchArgs;
use corpus::Article;
use driver::{Stop, Target};
use report::{LengthRow, Level, Report, Series, GRPC_A, GRPC_B, IN_PROCESS};

/// Runs the benchmark against `url` (or spawned servers) and writes
/// `latest.md`, `latest.json` and `latest.png` to `--out-dir`. It fails
/// (exit status 1) only when it cannot measure; failed requests are
/// reported, and make the exit status 2.
pub async fn run(args: &BenchArgs, url: &str, timeout: Duration) -> Result<ExitCode> {
    let input = input_path(args)?;
    let articles = Arc::new(corpus::load(&input, args.articles)?);
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let load_before = loadavg();
    eprintln!(
        "bench: {} articles from {}",
        articles.len(),
        input.display()
    );

    let subjects = subjects(args, url, timeout).await?;
    let mut series = interleaved_levels(args, &subjects, &articles).await?;
    // Length scaling is a property of the pipeline: measured in-process
    // when that runs, else through the first server.
    let lengths = match subjects
        .iter()
        .find(|s| s.name == IN_PROCESS)
        .or(subjects.first())
    {
        Some(s) if !args.lengths.is_empty() => {
            length_rows(args, &s.name, Arc::clone(&s.target), &articles).await?
        }
        _ => Vec::new(),
    };
    for (s, subject) in series.iter_mut().zip(&subjects) {
        s.peak_rss_bytes = subject.pid.and_then(procfs::memory).map(|(_, hwm)| hwm);
    }
    // Stops spawned servers.
    drop(subjects);

    let report = Report {
        date: httpdate::fmt_http_date(std::time::SystemTime::now()),
        command: command_line(),
        machine: report::Machine {
            cpu: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            load_before,
            load_after: loadavg(),
        },
        corpus: report::Corpus {
            path: input.display().to_string(),
            articles: articles.len(),
            mean_chars: articles.iter().map(|a| a.chars as f64).sum::<f64>()
                / articles.len() as f64,
        },
        plan: plan_words(args),
        series,
        lengths,
    };
    write_outputs(&report, &args.out_dir)?;
    let failed = report
        .series
        .iter()
        .flat_map(|s| &s.levels)
        .any(|l| !l.errors.is_empty())
        || report.lengths.iter().any(|r| r.errors > 0);
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// One thing measured: a server configuration or the in-process pipeline.
struct Subject {
    name: String,
    settings: String,
    startup_secs: Option<f64>,
    /// Whose memory to sample.
    pid: Option<u32>,
    target: Arc<dyn Target>,
    /// Killed when the subject is dropped.
    _server: Option<server::Spawned>,
}

/// Starts (or connects to) every server configuration, one after the
/// other so each start is timed alone, then loads the in-process pipeline.
/// All stay up for the whole run; an idle one costs no CPU.
async fn subjects(args: &BenchArgs, url: &str, timeout: Duration) -> Result<Vec<Subject>> {
    let mut subjects = Vec::new();
    if args.grpc() {
        let configs = std::iter::once((GRPC_A, args.server_args.as_str()))
            .chain(args.compare_args.as_deref().map(|b| (GRPC_B, b)));
        for (name, flags) in configs {
            subjects.push(grpc_subject(args, name, flags, url, timeout).await?);
        }
    }
    if args.in_process() {
        let argv = args.server_argv(&args.server_args)?;
        eprintln!("bench: loading the pipeline in-process");
        let loaded = tokio::task::spawn_blocking(move || raw::Raw::load(&argv))
            .await
            .context("loading the pipeline panicked")??;
        eprintln!(
            "bench: in-process pipeline loaded in {:.2} s",
            loaded.load_secs
        );
        subjects.push(Subject {
            name: IN_PROCESS.to_string(),
            settings: loaded.settings,
            startup_secs: Some(loaded.load_secs),
            // This process's own memory: the pipeline plus the benchmark.
            pid: Some(std::process::id()),
            target: Arc::new(loaded.raw),
            _server: None,
        });
    }
    Ok(subjects)
}

/// One gRPC configuration: spawned here with --spawn, or the server at `url`.
async fn grpc_subject(
    args: &BenchArgs,
    name: &str,
    flags: &str,
    url: &str,
    timeout: Duration,
) -> Result<Subject> {
    let (spawned, url, pid, settings) = match &args.spawn {
        Some(bin) => {
            let argv = args.server_argv(flags)?;
            let log = args.out_dir.join(format!(
                "server-{}.log",
                name.rsplit(' ').next().unwrap_or("x")
            ));
            eprintln!("bench: starting {} {}", bin.display(), argv.join(" "));
            let s = server::Spawned::start(bin, &argv, &log).await?;
            eprintln!(
                "bench: {name} SERVING after {:.2} s at {}",
                s.startup_secs, s.url
            );
            let (url, pid) = (s.url.clone(), Some(s.pid()));
            (Some(s), url, pid, argv.join(" "))
        }
        None => (
            None,
            url.to_string(),
            args.server_pid,
            format!("server at {url}"),
        ),
    };
    Ok(Subject {
        name: name.to_string(),
        settings,
        startup_secs: spawned.as_ref().map(|s| s.startup_secs),
        pid,
        target: Arc::new(grpc::Grpc::new(&url, timeout)?),
        _server: spawned,
    })
}

/// Every concurrency level against every subject, interleaved (level 1 of
/// each, then level 2 of each, ...): the load others put on a shared
/// machine drifts, and interleaving spreads the drift over all subjects
/// instead of biasing the ratios between them.
async fn interleaved_levels(
    args: &BenchArgs,
    subjects: &[Subject],
    articles: &Arc<Vec<Article>>,
) -> Result<Vec<Series>> {
    let stop = args.count.map_or(Stop::After(args.duration), Stop::Count);
    let mut series: Vec<Series> = subjects
        .iter()
        .map(|s| Series {
            name: s.name.clone(),
            settings: s.settings.clone(),
            startup_secs: s.startup_secs,
            peak_rss_bytes: None,
            levels: Vec::new(),
        })
        .collect();
    for &c in &args.concurrency {
        for (subject, out) in subjects.iter().zip(series.iter_mut()) {
            let sampler = subject.pid.map(procfs::RssSampler::start);
            let m = driver::level(
                Arc::clone(&subject.target),
                Arc::clone(articles),
                c,
                args.warmup,
                stop,
            )
            .await?;
            let level = Level::new(&m, sampler.as_ref().and_then(procfs::RssSampler::peak));
            eprintln!(
                "bench: {} c={c}: {:.2} articles/s, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, {} errors",
                subject.name,
                level.articles_per_s,
                level.p50_ms,
                level.p95_ms,
                level.p99_ms,
                m.error_count()
            );
            out.levels.push(level);
        }
    }
    Ok(series)
}

/// Cost at each `--lengths` length, one article at a time. The levels
/// before have warmed the target, so nothing is run unmeasured: a 100,000
/// character article is expensive.
async fn length_rows(
    args: &BenchArgs,
    name: &str,
    target: Arc<dyn Target>,
    corpus: &[Article],
) -> Result<Vec<LengthRow>> {
    let mut rows = Vec::new();
    for &length in &args.lengths {
        let built = corpus::of_length(corpus, length, args.length_count);
        let m = driver::level(
            Arc::clone(&target),
            Arc::new(built),
            1,
            Duration::ZERO,
            Stop::Count(args.length_count),
        )
        .await?;
        let row = LengthRow::new(name, length, &m);
        eprintln!(
            "bench: {name} length {length}: {:.1} ms per article, {:.2} ms per 1,000 chars",
            row.mean_ms, row.ms_per_1k_chars
        );
        rows.push(row);
    }
    Ok(rows)
}

fn write_outputs(report: &Report, dir: &Path) -> Result<()> {
    let md = dir.join("latest.md");
    std::fs::write(&md, report.markdown())
        .with_context(|| format!("cannot write {}", md.display()))?;
    let json = dir.join("latest.json");
    std::fs::write(&json, serde_json::to_string_pretty(report)?)
        .with_context(|| format!("cannot write {}", json.display()))?;
    let png = dir.join("latest.png");
    plot::draw(report, &png).with_context(|| format!("cannot draw {}", png.display()))?;
    eprintln!(
        "bench: wrote {}, {} and {}",
        md.display(),
        json.display(),
        png.display()
    );
    Ok(())
}

fn input_path(args: &BenchArgs) -> Result<PathBuf> {
    if let Some(p) = &args.input {
        return Ok(p.clone());
    }
    let default = PathBuf::from(args::DEFAULT_INPUT);
    if !default.is_file() {
        bail!(
            "no --input given and {} does not exist",
            args::DEFAULT_INPUT
        );
    }
    Ok(default)
}

fn plan_words(args: &BenchArgs) -> String {
    let measured = match args.count {
        Some(n) => format!("{n} articles"),
        None => format!("{} s", args.duration.as_secs_f64()),
    };
    format!(
        "{measured} measured after {} s of warm-up; clients {:?}",
        args.warmup.as_secs_f64(),
        args.concurrency
    )
}

/// The command as typed, shell-quoted, for the report.
fn command_line() -> String {
    let argv: Vec<String> = std::env::args().collect();
    shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}
