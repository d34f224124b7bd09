//! `khulasa batch`: many articles through the endpoint pool into a JSONL
//! result file, at most N requests in flight, resumable.
//!
//! Shape of a run: read the existing output (skip set, repair) → count the
//! input for the progress bar → check some endpoint answers → stream the
//! input through `buffer_unordered(N)` → hand each finished record to one
//! writer thread that appends it as a single flushed line. Results are
//! written in completion order, not input order; the `id` ties them back.

pub mod input;
pub mod resume;

use std::{
    collections::HashSet,
    io::Write,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use futures::{future, StreamExt};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use tokio::sync::mpsc;
use tonic::Code;

use self::input::{Article, Input, Item};
use super::{
    cli::{AnalysisOptions, BatchArgs},
    endpoints::Pool,
    record::{ErrorRecord, OutputRecord},
};

/// Exit status when some items failed but the run itself completed.
pub const EXIT_ITEMS_FAILED: u8 = 2;

/// Runs a batch. `Ok` carries 0 (all ok) or [`EXIT_ITEMS_FAILED`]; `Err` is a
/// fatal problem (input, output, no endpoint), exit 1.
pub async fn run(args: &BatchArgs, pool: &Pool) -> Result<ExitCode> {
    let started = Instant::now();
    refuse_same_file(args)?;
    let input = Input::open(&args.input)?;

    let output = args.output.clone();
    let (resume, file) = tokio::task::spawn_blocking(move || {
        let state = resume::scan(&output)?;
        let file = resume::open_for_append(&output, &state)?;
        anyhow::Ok((state, file))
    })
    .await
    .context("reading the existing output failed")??;
    if resume.truncated_bytes > 0 {
        eprintln!(
            "repaired {}: dropped a truncated last line ({} bytes)",
            args.output.display(),
            resume.truncated_bytes
        );
    }
    if resume.unreadable_lines > 0 {
        eprintln!(
            "warning: {} lines of {} are not records and were ignored",
            resume.unreadable_lines,
            args.output.display()
        );
    }
    if !resume.done.is_empty() || !resume.failed_before.is_empty() {
        eprintln!(
            "resuming: {} ids already done, {} failed before and will be retried",
            resume.done.len(),
            resume.failed_before.len()
        );
    }

    let counter = input.clone();
    let total = tokio::task::spawn_blocking(move || counter.count())
        .await
        .context("counting the input failed")??;

    for (url, why) in pool.require_reachable().await? {
        eprintln!("warning: endpoint {url} is not reachable now ({why}); will retry it");
    }

    let bar = progress_bar(total);
    let (tx, rx) = mpsc::channel::<OutputRecord>(2 * args.concurrency as usize);
    let writer = spawn_writer(file, rx);

    let mut stats = Stats::default();
    let result = process(args, pool, input, &resume.done, &bar, &tx, &mut stats).await;
    drop(tx);
    let written = writer
        .await
        .context("the output writer stopped unexpectedly")?;
    bar.finish_and_clear();

    eprintln!(
        "done: {} ok, {} failed, {} skipped (already done) in {:.1} s",
        stats.ok,
        stats.failed,
        stats.skipped,
        started.elapsed().as_secs_f64()
    );
    // A write error is the root cause of the sender failing, so report it first.
    written.with_context(|| format!("cannot write output {}", args.output.display()))?;
    result?;
    Ok(if stats.failed > 0 {
        ExitCode::from(EXIT_ITEMS_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Counts for the summary line.
#[derive(Debug, Default)]
struct Stats {
    ok: u64,
    failed: u64,
    skipped: u64,
}

/// The main loop; returns early only on a fatal error.
async fn process(
    args: &BatchArgs,
    pool: &Pool,
    input: Input,
    done: &HashSet<String>,
    bar: &ProgressBar,
    tx: &mpsc::Sender<OutputRecord>,
    stats: &mut Stats,
) -> Result<()> {
    let options = &args.options;
    let mut ids = UniqueIds::default();
    let mut results = input
        .into_stream()
        .await?
        .filter_map(|item| {
            let keep = match &item {
                Ok(item) if done.contains(item.id()) => {
                    stats.skipped += 1;
                    // Keep rate and ETA about the work actually left.
                    bar.dec_length(1);
                    false
                }
                _ => true,
            };
            future::ready(keep.then_some(item))
        })
        .map(|item| item.map(|item| ids.admit(item)))
        .map(|item: Result<Item>| async move {
            match item? {
                Item::Bad(rec) => Ok(OutputRecord::Error(rec)),
                Item::Article(article) => {
                    Ok::<_, anyhow::Error>(analyze_one(pool, options, article).await)
                }
            }
        })
        .buffer_unordered(args.concurrency as usize);

    // If every endpoint goes away mid-run, stop instead of turning the rest
    // of the input into error records; the run can be resumed later.
    let outage_limit = (2 * u64::from(args.concurrency)).max(10);
    let mut unavailable_in_a_row = 0u64;
    while let Some(record) = results.next().await {
        let record = record?;
        match &record {
            OutputRecord::Success(_) => {
                stats.ok += 1;
                unavailable_in_a_row = 0;
            }
            OutputRecord::Error(e) => {
                stats.failed += 1;
                if e.error.code == Code::Unavailable as i32 {
                    unavailable_in_a_row += 1;
                } else {
                    unavailable_in_a_row = 0;
                }
            }
        }
        tx.send(record)
            .await
            .map_err(|_| anyhow!("the output writer stopped"))?;
        bar.inc(1);
        bar.set_message(format!("{} ok, {} failed", stats.ok, stats.failed));
        if unavailable_in_a_row >= outage_limit {
            pool.require_reachable()
                .await
                .context("giving up: every endpoint went away during the run")?;
            unavailable_in_a_row = 0;
        }
    }
    Ok(())
}

/// Analyzes one article; every failure becomes an error record.
async fn analyze_one(pool: &Pool, options: &AnalysisOptions, article: Article) -> OutputRecord {
    let id = article.id;
    let request = options.request(id.clone(), article.text, article.language, article.title);
    match pool.analyze(request).await {
        Ok(mut response) => {
            // Resume keys on the input id, whatever the server echoed.
            response.id.clone_from(&id);
            OutputRecord::from_response(response)
        }
        Err(e) => {
            let mut rec = ErrorRecord::from_status(id, &e.status);
            if e.attempts > 1 {
                rec.error.message = format!(
                    "{} (after {} attempts, last on {})",
                    rec.error.message, e.attempts, e.endpoint
                );
            }
            OutputRecord::Error(rec)
        }
    }
}

/// The only code that touches the output file: one thread, one complete
/// line per `write_all`, flushed at once, so lines never interleave and a
/// crash loses at most the line being written. Returns how many records it
/// wrote.
fn spawn_writer(
    file: std::fs::File,
    mut rx: mpsc::Receiver<OutputRecord>,
) -> tokio::task::JoinHandle<Result<u64>> {
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        let mut written = 0u64;
        let mut line = Vec::with_capacity(4096);
        while let Some(record) = rx.blocking_recv() {
            line.clear();
            serde_json::to_writer(&mut line, &record).context("cannot encode a record")?;
            line.push(b'\n');
            file.write_all(&line)?;
            file.flush()?;
            written += 1;
        }
        Ok(written)
    })
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    // Hidden automatically when stderr is not a terminal.
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{elapsed_precise} [{wide_bar}] {pos}/{len} {rate} ETA {eta} {msg}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {elapsed_precise} {pos} done {rate} {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        // indicatif's own {per_sec} prints four decimals.
        let style = style.progress_chars("=> ").with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}/s", state.per_sec());
            },
        );
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Appending results to the article file would destroy it.
fn refuse_same_file(args: &BatchArgs) -> Result<()> {
    if let (Ok(a), Ok(b)) = (args.input.canonicalize(), args.output.canonicalize()) {
        if a == b {
            bail!("--input and --output are the same file ({})", a.display());
        }
    }
    Ok(())
}

/// Ids must be unique in an input: they tie each result line to its article
/// and decide what a resumed run skips. The first article with an id is
/// analyzed; a later one becomes an error record instead of a second,
/// ambiguous result. A bad line does not claim its id, so a corrected copy
/// of it further on is still analyzed.
#[derive(Debug, Default)]
struct UniqueIds(HashSet<String>);

impl UniqueIds {
    fn admit(&mut self, item: Item) -> Item {
        let Item::Article(article) = &item else {
            return item;
        };
        if self.0.insert(article.id.clone()) {
            return item;
        }
        Item::Bad(ErrorRecord::new(
            item.id(),
            Code::InvalidArgument as i32,
            "duplicate id: an earlier article of the input has this id and is the one analyzed; \
             ids must be unique to tie results to articles and to resume a run",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::input::Article;

    fn article(id: &str, text: &str) -> Item {
        Item::Article(Article {
            id: id.into(),
            text: text.into(),
            language: None,
            title: None,
        })
    }

    #[test]
    fn a_repeated_id_becomes_an_error_record() {
        let mut ids = UniqueIds::default();
        assert_eq!(ids.admit(article("a", "one")), article("a", "one"));
        assert_eq!(ids.admit(article("b", "two")), article("b", "two"));
        let Item::Bad(record) = ids.admit(article("a", "three")) else {
            panic!("a second \"a\" was admitted");
        };
        assert_eq!(record.id, "a");
        assert_eq!(record.error.code, Code::InvalidArgument as i32);
        assert!(
            record.error.message.starts_with("duplicate id"),
            "{record:?}"
        );
        // A bad line does not claim its id: a corrected copy still runs.
        let bad = Item::Bad(ErrorRecord::new("c", 3, "no text"));
        assert_eq!(ids.admit(bad.clone()), bad);
        assert_eq!(ids.admit(article("c", "four")), article("c", "four"));
    }
}
