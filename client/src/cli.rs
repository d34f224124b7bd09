//! Command-line surface of `khulasa` (clap derive). Only parsing and value
//! validation live here; the commands themselves are in the sibling modules.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

use khulasa::proto;

/// Default server address, the port `khulasa-server` listens on by default.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";

/// Khulasa client: summaries and named entities for (Arabic-first) news
/// articles, from a `khulasa-server` over gRPC.
#[derive(Debug, Parser)]
#[command(name = "khulasa", version)]
pub struct Cli {
    /// Server address, `http://host:port` or just `host:port`. Repeat the flag
    /// (or comma-separate in KHULASA_ENDPOINT) to spread `batch` requests over
    /// several servers; other commands use the first one that answers.
    #[arg(
        long = "endpoint",
        value_name = "URL",
        global = true,
        env = "KHULASA_ENDPOINT",
        value_delimiter = ',',
        default_value = DEFAULT_ENDPOINT
    )]
    pub endpoints: Vec<String>,

    /// Time limit of each request in seconds (fractions allowed), retries
    /// included; each attempt sends the server the time left as its gRPC
    /// deadline.
    #[arg(long, value_name = "SECS", global = true, default_value = "60", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// PEM CA certificates that signed the servers' TLS certificates: speak
    /// TLS (endpoints given as host:port become https://).
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        env = "KHULASA_CLIENT_TLS_CA"
    )]
    pub tls_ca: Option<PathBuf>,

    /// PEM client certificate for mutual TLS (with --tls-key and --tls-ca).
    #[arg(long, value_name = "FILE", global = true, env = "KHULASA_CLIENT_TLS_CERT", requires_all = ["tls_key", "tls_ca"])]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        env = "KHULASA_CLIENT_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Server name to verify in the certificate, when it differs from the
    /// endpoint's host (e.g. connecting by IP).
    #[arg(
        long,
        value_name = "NAME",
        global = true,
        env = "KHULASA_CLIENT_TLS_DOMAIN",
        requires = "tls_ca"
    )]
    pub tls_domain: Option<String>,

    /// File holding a bearer token to send as `authorization: Bearer
    /// <token>` (servers started with --auth-token-file).
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        env = "KHULASA_CLIENT_TOKEN_FILE"
    )]
    pub token_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarize one article and list its entities.
    Analyze(AnalyzeArgs),
    /// Analyze many articles (JSONL file or directory of .txt files) into a
    /// JSONL result file; resumable.
    Batch(BatchArgs),
    /// Show the health of each endpoint: the server overall and the
    /// Summarizer service. Exits 0 only if everything is SERVING.
    Health,
    /// Show the server's models, limits, languages and version.
    Info(InfoArgs),
    /// Measure latency and throughput at several concurrency levels, through
    /// gRPC and in-process, and write a Markdown report and a plot.
    Bench(crate::bench::BenchArgs),
}

/// `khulasa analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The article, UTF-8 text; `-` reads standard input.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,

    #[command(flatten)]
    pub options: AnalysisOptions,

    /// The article's headline: the server ranks the entities it names
    /// higher.
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,

    /// Print the response as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `khulasa batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Articles: a JSONL file of {"id", "text", "language"?, "title"?} objects (`-` for
    /// standard input), or a directory whose *.txt files are the articles
    /// (id = file stem, processed in name order).
    #[arg(long, short, value_name = "FILE|DIR")]
    pub input: PathBuf,

    /// JSONL result file, one record per article. If it exists, articles
    /// with a successful record are skipped and new records are appended.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,

    /// Most requests in flight at once, over all endpoints.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,

    #[command(flatten)]
    pub options: AnalysisOptions,
}

/// `khulasa info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Print the answer as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Request options shared by `analyze` and `batch`.
#[derive(Debug, Clone, Default, Args)]
pub struct AnalysisOptions {
    /// BCP-47 language hint such as `ar`; by default the server detects it.
    /// In batch mode an item's own "language" wins over this.
    #[arg(long, short, value_name = "L")]
    pub language: Option<String>,

    /// Summary: at most N sentences (server default: 3 when no length
    /// option is given; the tightest of the length options wins).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_sentences: Option<u32>,

    /// Summary: this fraction of the article's sentences, in (0, 1].
    #[arg(long, value_name = "R", value_parser = parse_ratio)]
    pub ratio: Option<f32>,

    /// Summary: at most N characters (code points); sentences that do not
    /// fit are skipped, so the summary may be empty.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_chars: Option<u32>,

    /// Summary kind: extractive (sentences of the article) or abstractive
    /// (generated; needs a server started with --summarizer). By default the
    /// server picks abstractive when it has such a model.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,

    /// What to compute, comma-separated; default both.
    #[arg(long, value_name = "TASKS", value_delimiter = ',')]
    pub tasks: Vec<TaskArg>,
}

/// A summary kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Extractive,
    Abstractive,
}

impl From<ModeArg> for proto::summary_options::Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Extractive => proto::summary_options::Mode::Extractive,
            ModeArg::Abstractive => proto::summary_options::Mode::Abstractive,
        }
    }
}

/// A task the server can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskArg {
    /// The summary.
    Summary,
    /// Named entities.
    Entities,
}

impl From<TaskArg> for proto::Task {
    fn from(t: TaskArg) -> Self {
        match t {
            TaskArg::Summary => proto::Task::Summary,
            TaskArg::Entities => proto::Task::Entities,
        }
    }
}

impl AnalysisOptions {
    /// The request for one article. `language` is the item's own language
    /// (batch input), which overrides `--language`; `title` its headline.
    pub fn request(
        &self,
        id: String,
        text: String,
        language: Option<String>,
        title: Option<String>,
    ) -> proto::AnalyzeRequest {
        let summary = if self.max_sentences.is_none()
            && self.ratio.is_none()
            && self.max_chars.is_none()
            && self.mode.is_none()
        {
            // Leave it unset so the server applies its own default.
            None
        } else {
            Some(proto::SummaryOptions {
                max_sentences: self.max_sentences.unwrap_or(0),
                ratio: self.ratio.unwrap_or(0.0),
                max_chars: self.max_chars.unwrap_or(0),
                mode: self
                    .mode
                    .map_or(proto::summary_options::Mode::Unspecified, Into::into)
                    as i32,
            })
        };
        proto::AnalyzeRequest {
            id,
            text,
            language: language
                .filter(|l| !l.is_empty())
                .or_else(|| self.language.clone())
                .unwrap_or_default(),
            summary,
            tasks: self
                .tasks
                .iter()
                .map(|&t| proto::Task::from(t) as i32)
                .collect(),
            title: title.unwrap_or_default(),
        }
    }
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds: {s:?}"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("must be more than 0 seconds".into());
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

fn parse_ratio(s: &str) -> Result<f32, String> {
    let r: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a number: {s:?}"))?;
    khulasa::tasks::summarize::Ratio::new(r)
        .map(|_| r)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_batch_with_options() {
        let cli = Cli::try_parse_from([
            "khulasa",
            "--endpoint",
            "a:1",
            "--endpoint",
            "b:2,c:3",
            "batch",
            "--input",
            "in.jsonl",
            "--output",
            "out.jsonl",
            "--tasks",
            "summary,entities",
            "--ratio",
            "0.5",
            "--timeout",
            "2.5",
        ])
        .unwrap();
        assert_eq!(cli.endpoints, ["a:1", "b:2", "c:3"]);
        assert_eq!(cli.timeout, Duration::from_millis(2500));
        let Command::Batch(b) = cli.command else {
            panic!("not batch")
        };
        assert_eq!(b.concurrency, 4);
        assert_eq!(b.options.tasks, [TaskArg::Summary, TaskArg::Entities]);
        assert_eq!(b.options.ratio, Some(0.5));
    }

    #[test]
    fn rejects_bad_values() {
        for args in [
            &["khulasa", "analyze", "x", "--ratio", "0"][..],
            &["khulasa", "analyze", "x", "--ratio", "1.5"],
            &["khulasa", "--timeout", "0", "health"],
            &[
                "khulasa",
                "batch",
                "-i",
                "a",
                "-o",
                "b",
                "--concurrency",
                "0",
            ],
            &["khulasa", "analyze", "x", "--tasks", "translate"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?} should fail");
        }
    }

    #[test]
    fn request_building() {
        let opts = AnalysisOptions {
            language: Some("ar".into()),
            max_chars: Some(200),
            tasks: vec![TaskArg::Entities],
            ..Default::default()
        };
        let req = opts.request("i".into(), "t".into(), None, None);
        assert_eq!(req.language, "ar");
        assert_eq!(req.tasks, [proto::Task::Entities as i32]);
        let s = req.summary.unwrap();
        assert_eq!((s.max_sentences, s.ratio, s.max_chars), (0, 0.0, 200));
        let req = opts.request("i".into(), "t".into(), Some("en".into()), Some("h".into()));
        assert_eq!(req.title, "h");
        assert_eq!(req.language, "en");
        let req = AnalysisOptions::default().request("i".into(), "t".into(), None, None);
        assert!(req.summary.is_none() && req.tasks.is_empty() && req.language.is_empty());
    }
}
