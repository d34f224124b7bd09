//! Flags of `khulasa bench`.

use std::{path::PathBuf, time::Duration};

use clap::Args;

/// Where the corpus is looked for when `--input` is not given: the shared
/// data folder beside the repository.
pub const DEFAULT_INPUT: &str = "../shared/data/ant_articles.jsonl";

/// `khulasa bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Articles: JSONL with a "text" field and an "id", "docno" or "title"
    /// [default: ../shared/data/ant_articles.jsonl when it exists].
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Use at most this many articles of the input (in file order).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub articles: Option<u64>,

    /// Concurrency levels: clients sending one request at a time each.
    #[arg(long, short = 'c', value_name = "LIST", value_delimiter = ',',
          default_value = "1,2,4,8,16", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: Vec<u32>,

    /// Seconds measured at each level (ignored with --count).
    #[arg(long, value_name = "SECS", default_value = "20", value_parser = parse_secs)]
    pub duration: Duration,

    /// Articles measured at each level, instead of a duration.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Seconds of unmeasured load before each level.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_secs_or_zero)]
    pub warmup: Duration,

    /// Process id of the server behind --endpoint, for its peak RSS
    /// (/proc/PID/status). Not needed with --spawn.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    /// Start the server here from this binary (on a free loopback port, with
    /// --server-args), time it to SERVING, measure it and stop it, instead
    /// of using --endpoint.
    #[arg(long, value_name = "SERVER_BIN")]
    pub spawn: Option<PathBuf>,

    /// Flags of the server (as for khulasa-server, shell-quoted): given to a
    /// --spawn'ed server and mirrored by --raw (models, sessions, threads,
    /// concurrency). Leave out --listen.
    #[arg(
        long,
        value_name = "ARGS",
        default_value = "",
        allow_hyphen_values = true
    )]
    pub server_args: String,

    /// Flags of a second server configuration (with --spawn): it is measured
    /// at the same levels after the first, and throughput and latency are
    /// reported as ratios of the two.
    #[arg(
        long,
        value_name = "ARGS",
        allow_hyphen_values = true,
        requires = "spawn"
    )]
    pub compare_args: Option<String>,

    /// Also run the same articles through the pipeline in this process
    /// (no gRPC), loaded as the server loads it.
    #[arg(long)]
    pub raw: bool,

    /// Only the in-process pipeline: no server is needed.
    #[arg(long, conflicts_with_all = ["spawn", "compare_args", "server_pid"])]
    pub raw_only: bool,

    /// Models directory for --raw and --spawn (added to --server-args).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,

    /// Article lengths in code points for the length-scaling run (ANT
    /// articles concatenated), e.g. 2000,10000,50000,100000; none by default.
    /// Run in-process with --raw/--raw-only, else through the server.
    #[arg(long, value_name = "LIST", value_delimiter = ',',
          value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    pub lengths: Vec<u64>,

    /// Articles measured at each length, one at a time.
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub length_count: u64,

    /// Folder for latest.md, latest.json, latest.png and server logs.
    #[arg(long, value_name = "DIR", default_value = "bench/results")]
    pub out_dir: PathBuf,
}

impl BenchArgs {
    /// Whether the gRPC side runs.
    pub fn grpc(&self) -> bool {
        !self.raw_only
    }

    /// Whether the in-process side runs.
    pub fn in_process(&self) -> bool {
        self.raw || self.raw_only
    }

    /// The server flags of configuration A (or B), `--models` first if given.
    pub fn server_argv(&self, args: &str) -> anyhow::Result<Vec<String>> {
        let mut argv: Vec<String> = self
            .models
            .iter()
            .flat_map(|m| ["--models".to_string(), m.display().to_string()])
            .collect();
        argv.extend(
            shlex::split(args)
                .ok_or_else(|| anyhow::anyhow!("cannot split server flags {args:?}"))?,
        );
        Ok(argv)
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let d = parse_secs_or_zero(s)?;
    if d.is_zero() {
        return Err("must be more than 0 seconds".into());
    }
    Ok(d)
}

fn parse_secs_or_zero(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds: {s:?}"))?;
    if secs.is_nan() || secs < 0.0 {
        return Err("must not be negative".into());
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{cli::Command, Cli};

    fn bench(args: &[&str]) -> Result<BenchArgs, clap::Error> {
        let cli = Cli::try_parse_from(["khulasa", "bench"].iter().chain(args))?;
        match cli.command {
            Command::Bench(b) => Ok(b),
            other => panic!("not bench: {other:?}"),
        }
    }

    #[test]
    fn server_flags_are_shell_split_after_models() {
        let b = bench(&[
            "--spawn",
            "srv",
            "--models",
            "m dir",
            "--server-args",
            "--sessions 2 --summarizer 'a b'",
            "--compare-args",
            "--sessions 1",
            "-c",
            "1,4",
        ])
        .unwrap();
        assert_eq!(
            b.server_argv(&b.server_args).unwrap(),
            [
                "--models",
                "m dir",
                "--sessions",
                "2",
                "--summarizer",
                "a b"
            ]
        );
        assert_eq!(b.compare_args.as_deref(), Some("--sessions 1"));
        assert_eq!(b.concurrency, [1, 4]);
        assert!(b.grpc() && !b.in_process());
        assert!(b.server_argv("'unclosed").is_err());
    }

    #[test]
    fn rejects_contradictions() {
        assert!(
            bench(&["--compare-args", "--sessions 2"]).is_err(),
            "B needs --spawn"
        );
        assert!(bench(&["--raw-only", "--spawn", "srv"]).is_err());
        assert!(bench(&["-c", "0"]).is_err());
        assert!(bench(&["--duration", "0"]).is_err());
        let b = bench(&["--raw-only"]).unwrap();
        assert!(!b.grpc() && b.in_process());
        assert_eq!(b.lengths, Vec::<u64>::new());
    }
}
