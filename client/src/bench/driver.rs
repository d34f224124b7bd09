//! Closed-loop load: N clients, each sending its next article as soon as
//! the previous answer arrives, for a duration or a count. Latencies go into
//! an HDR histogram (microseconds), errors are counted by kind.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use futures::future::BoxFuture;
use hdrhistogram::Histogram;

use super::corpus::Article;

/// Something that analyzes one article: the gRPC server or the in-process
/// pipeline. An `Err` is the error's kind (a gRPC code name, say).
pub trait Target: Send + Sync + 'static {
    fn analyze(&self, article: &Article) -> BoxFuture<'static, Result<(), String>>;
}

/// When a level ends.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// No new request after this long; those in flight finish.
    After(Duration),
    /// After this many requests in all.
    Count(u64),
}

/// What one level measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub concurrency: u32,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests by kind.
    pub errors: BTreeMap<String, u64>,
    /// Code points of the successful requests.
    pub chars: u64,
    /// From the first request sent to the last answer received.
    pub elapsed: Duration,
    /// Latency of successful requests, microseconds.
    pub latency_us: Histogram<u64>,
}

impl Measured {
    pub fn articles_per_s(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn chars_per_s(&self) -> f64 {
        self.chars as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A latency quantile in milliseconds (0 when nothing succeeded).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1e3
    }

    pub fn mean_ms(&self) -> f64 {
        self.latency_us.mean() / 1e3
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Runs `warmup` of unmeasured load, then one measured level. Both walk the
/// articles from the first, so every target sees the same ones in the same
/// order.
pub async fn level(
    target: Arc<dyn Target>,
    articles: Arc<Vec<Article>>,
    concurrency: u32,
    warmup: Duration,
    stop: Stop,
) -> Result<Measured> {
    if !warmup.is_zero() {
        run(
            Arc::clone(&target),
            Arc::clone(&articles),
            concurrency,
            Stop::After(warmup),
        )
        .await?;
    }
    run(target, articles, concurrency, stop).await
}

async fn run(
    target: Arc<dyn Target>,
    articles: Arc<Vec<Article>>,
    concurrency: u32,
    stop: Stop,
) -> Result<Measured> {
    let tickets = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, articles, tickets) = (
                Arc::clone(&target),
                Arc::clone(&articles),
                Arc::clone(&tickets),
            );
            tokio::spawn(async move { client(&*target, &articles, &tickets, started, stop).await })
        })
        .collect();
    let mut total = Measured {
        concurrency,
        ok: 0,
        errors: BTreeMap::new(),
        chars: 0,
        elapsed: Duration::ZERO,
        latency_us: new_histogram(),
    };
    for w in workers {
        let part = w.await.context("a benchmark client panicked")?;
        total.ok += part.ok;
        total.chars += part.chars;
        for (k, n) in part.errors {
            *total.errors.entry(k).or_default() += n;
        }
        total
            .latency_us
            .add(&part.latency_us)
            .context("merging latency histograms")?;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// One client's loop.
async fn client(
    target: &dyn Target,
    articles: &[Article],
    tickets: &AtomicU64,
    started: Instant,
    stop: Stop,
) -> Measured {
    let mut m = Measured {
        concurrency: 1,
        ok: 0,
        errors: BTreeMap::new(),
        chars: 0,
        elapsed: Duration::ZERO,
        latency_us: new_histogram(),
    };
    loop {
        if let Stop::After(d) = stop {
            if started.elapsed() >= d {
                break;
            }
        }
        let ticket = tickets.fetch_add(1, Ordering::Relaxed);
        if let Stop::Count(n) = stop {
            if ticket >= n {
                break;
            }
        }
        let article = &articles[(ticket % articles.len() as u64) as usize];
        let sent = Instant::now();
        match target.analyze(article).await {
            Ok(()) => {
                let us = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                m.latency_us.saturating_record(us.max(1));
                m.ok += 1;
                m.chars += article.chars;
            }
            Err(kind) => *m.errors.entry(kind).or_default() += 1,
        }
    }
    m
}

/// 1 µs to 1 hour at 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant bounds are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers after 2 ms; fails articles whose id starts with "bad".
    struct Sleeper;

    impl Target for Sleeper {
        fn analyze(&self, article: &Article) -> BoxFuture<'static, Result<(), String>> {
            let bad = article.id.starts_with("bad");
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                if bad {
                    Err("INTERNAL".into())
                } else {
                    Ok(())
                }
            })
        }
    }

    #[tokio::test]
    async fn counts_every_request_once() {
        let articles = Arc::new(vec![
            Article::new("a".into(), "abc".into()),
            Article::new("bad".into(), "de".into()),
        ]);
        let m = level(
            Arc::new(Sleeper),
            articles,
            3,
            Duration::ZERO,
            Stop::Count(10),
        )
        .await
        .unwrap();
        assert_eq!((m.ok, m.error_count()), (5, 5));
        assert_eq!(m.errors["INTERNAL"], 5);
        assert_eq!(m.chars, 15);
        assert_eq!(m.latency_us.len(), 5);
        assert!(m.quantile_ms(0.5) >= 2.0);
    }

    #[tokio::test]
    async fn stops_after_the_duration() {
        let articles = Arc::new(vec![Article::new("a".into(), "abc".into())]);
        let d = Duration::from_millis(50);
        let m = level(
            Arc::new(Sleeper),
            articles,
            2,
            Duration::ZERO,
            Stop::After(d),
        )
        .await
        .unwrap();
        assert!(m.ok >= 2, "{}", m.ok);
        assert!(m.elapsed >= d);
    }
}
