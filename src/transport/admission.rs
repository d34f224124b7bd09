//! Admission control: a queue in front of the analysis workers, bounded in
//! requests and in work (code points), and the client's deadline
//! (`grpc-timeout`), so overload fails fast with RESOURCE_EXHAUSTED and work
//! nobody waits for never reaches a model.
//!
//! A request's cost is its length in code points. Every finished analysis
//! updates a running estimate of how many code points one worker analyzes
//! per second; a request with a deadline whose predicted finish (the work
//! ahead of it spread over the workers, then its own) falls after that
//! deadline, though its own work alone would fit, is refused at once, with a `grpc-retry-pushback-ms` trailer
//! saying when the queue should have room (gRPC's retry design), so a client
//! or mesh can send it to another replica instead of waiting in vain.
//! Requests without a deadline only meet the queue's bounds.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};
use tonic::{
    metadata::{MetadataMap, MetadataValue},
    Status,
};

use super::metrics::{self, GaugeGuard};

/// The trailer of gRPC's retry design that tells a client when to retry.
pub const RETRY_PUSHBACK: &str = "grpc-retry-pushback-ms";

/// Weight of the newest analysis in the throughput estimate.
const RATE_WEIGHT: f64 = 0.2;

/// The queue's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Requests that may wait for a worker.
    pub requests: usize,
    /// Code points of all waiting requests together.
    pub chars: usize,
}

/// The workers (articles analyzed at once) and the queue waiting for them.
#[derive(Debug)]
pub struct Admission {
    workers: Arc<Semaphore>,
    waiting: AtomicUsize,
    limits: QueueLimits,
    work: Mutex<Work>,
}

/// Code points waiting and being analyzed, and the measured speed.
#[derive(Debug, Default)]
struct Work {
    queued_chars: usize,
    running_chars: usize,
    /// Analyses running now.
    running: usize,
    /// Code points the whole server analyzes per second, all workers
    /// together (they share the same cores, so one analysis's speed is only
    /// right at the concurrency it ran at); `None` until calibrated or the
    /// first analysis finishes.
    chars_per_second: Option<f64>,
}

/// A worker, held for one analysis; the request's work counts as running
/// until it is dropped.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    running: Charge,
    /// Analyses running when this one started, itself included.
    beside_at_start: usize,
}

impl Admitted {
    /// Feeds a finished analysis of the request into the throughput
    /// estimate (only completed work: a cancelled one says nothing of speed).
    /// The analyses that ran beside it shared the server, so the server's
    /// speed is this one's times their mean number.
    pub fn finished(&self, took: Duration) {
        let admission = &self.running.admission;
        let beside_now = admission.work().running.max(1);
        let concurrency = (self.beside_at_start + beside_now) as f64 / 2.0;
        admission.record(self.running.chars, took, concurrency);
    }
}

impl Admission {
    pub fn new(max_concurrent: usize, limits: QueueLimits) -> Self {
        Admission {
            workers: Arc::new(Semaphore::new(max_concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            limits,
            work: Mutex::new(Work::default()),
        }
    }

    fn work(&self) -> std::sync::MutexGuard<'_, Work> {
        // The counters stay consistent even if a holder panicked.
        self.work
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets the speed estimate from one analysis run alone (at startup), so
    /// that the deadline check works from the first request on.
    pub fn calibrate(&self, chars: usize, took: Duration) {
        self.record(chars, took, 1.0);
    }

    fn record(&self, chars: usize, took: Duration, concurrency: f64) {
        let secs = took.as_secs_f64();
        if chars == 0 || secs <= 0.0 {
            return;
        }
        let rate = chars as f64 / secs * concurrency.max(1.0);
        let mut work = self.work();
        work.chars_per_second = Some(match work.chars_per_second {
            Some(old) => old + RATE_WEIGHT * (rate - old),
            None => rate,
        });
    }

    /// Waits for a worker for a request of `chars` code points, unless the
    /// queue is full, the request cannot finish before its deadline, or the
    /// deadline passes first. Dropping the returned future (the client went
    /// away) leaves the queue at once.
    pub async fn admit(
        self: &Arc<Self>,
        chars: usize,
        deadline: Option<Instant>,
    ) -> Result<Admitted, Status> {
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(Status::deadline_exceeded(
                "deadline passed before the request was admitted",
            ));
        }
        if let Some(deadline) = deadline {
            self.check_finish(chars, deadline)?;
        }
        if let Ok(permit) = Arc::clone(&self.workers).try_acquire_owned() {
            return Ok(self.running(permit, chars));
        }
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&self.waiting);
        let _depth = GaugeGuard::raise(metrics::QUEUE_DEPTH);
        if waiting >= self.limits.requests {
            return Err(super::status::retry_later(
                tonic::Code::ResourceExhausted,
                format!(
                    "server overloaded: {waiting} requests already queued (limit {}); retry later or add replicas",
                    self.limits.requests
                ),
                super::status::RETRY_DELAY,
            ));
        }
        let queued = {
            let mut work = self.work();
            if work.queued_chars + chars > self.limits.chars {
                return Err(super::status::retry_later(
                    tonic::Code::ResourceExhausted,
                    format!(
                        "server overloaded: {} code points of articles already queued, {chars} more would pass the limit of {}; retry later or add replicas",
                        work.queued_chars, self.limits.chars
                    ),
                    super::status::RETRY_DELAY,
                ));
            }
            work.queued_chars += chars;
            Charge {
                admission: Arc::clone(self),
                chars,
                running: false,
            }
        };
        let acquire = Arc::clone(&self.workers).acquire_owned();
        let permit = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, acquire)
                .await
                .map_err(|_| {
                    Status::deadline_exceeded("deadline passed while the request was queued")
                })?,
            None => acquire.await,
        };
        let permit = permit.map_err(|_| {
            super::status::retry_later(
                tonic::Code::Unavailable,
                "server is shutting down",
                Duration::ZERO,
            )
        })?;
        drop(queued);
        Ok(self.running(permit, chars))
    }

    fn running(self: &Arc<Self>, permit: OwnedSemaphorePermit, chars: usize) -> Admitted {
        let beside_at_start = {
            let mut work = self.work();
            work.running_chars += chars;
            work.running += 1;
            work.running
        };
        Admitted {
            _permit: permit,
            running: Charge {
                admission: Arc::clone(self),
                chars,
                running: true,
            },
            beside_at_start,
        }
    }

    /// Refuses a request that the measured speed says cannot finish before
    /// `deadline`: the work ahead of it (waiting and running), then its own,
    /// at the server's speed.
    fn check_finish(&self, chars: usize, deadline: Instant) -> Result<(), Status> {
        let (ahead, rate) = {
            let work = self.work();
            match work.chars_per_second {
                Some(rate) if rate > 0.0 => (work.queued_chars + work.running_chars, rate),
                _ => return Ok(()),
            }
        };
        let wait = Duration::from_secs_f64(ahead as f64 / rate);
        let own = Duration::from_secs_f64(chars as f64 / rate);
        let left = deadline.saturating_duration_since(Instant::now());
        // Only the queue makes a request late here; one too long for its
        // deadline even on an idle server is tried (and stopped at the
        // deadline), since no other replica would do better.
        if wait + own <= left || own > left {
            return Ok(());
        }
        let mut status = super::status::retry_later(
            tonic::Code::ResourceExhausted,
            format!(
            "server busy: it would finish this article after its deadline ({:.1} s from now): about {:.1} s of queued work ({ahead} code points) ahead of it and {:.1} s for its own {chars} code points at the measured {:.0} code points per second; retry on another replica or after the pushback",
            left.as_secs_f64(),
            wait.as_secs_f64(),
            own.as_secs_f64(),
            rate
            ),
            wait,
        );
        let pushback_ms = wait.as_millis().max(1).to_string();
        if let Ok(value) = MetadataValue::try_from(pushback_ms.as_str()) {
            status.metadata_mut().insert(RETRY_PUSHBACK, value);
        }
        Err(status)
    }
}

/// Decrements the queue counter however the wait ends.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request's code points, counted as queued or running until dropped.
#[derive(Debug)]
struct Charge {
    admission: Arc<Admission>,
    chars: usize,
    running: bool,
}

impl Drop for Charge {
    fn drop(&mut self) {
        let mut work = self.admission.work();
        if self.running {
            work.running = work.running.saturating_sub(1);
        }
        let total = if self.running {
            &mut work.running_chars
        } else {
            &mut work.queued_chars
        };
        *total = total.saturating_sub(self.chars);
    }
}

/// When a request's headers arrived, stamped by the server's interceptor
/// before the message is read: the client's deadline (and tonic's own
/// timer) count from there, and reading a large message takes time.
#[derive(Debug, Clone, Copy)]
pub struct Arrival(pub Instant);

impl Arrival {
    /// The stamped arrival of `request`, or now if it has none.
    pub fn of<T>(request: &tonic::Request<T>) -> Instant {
        request
            .extensions()
            .get::<Arrival>()
            .map_or_else(Instant::now, |a| a.0)
    }
}

/// When to give up on a request, from the client's `grpc-timeout` header:
/// slightly before the client does (5%, at most 100 ms), so the client
/// still receives DEADLINE_EXCEEDED and learns why instead of timing out.
/// A malformed header is INVALID_ARGUMENT rather than no deadline: the
/// client meant one, and would otherwise wait without the limit it set.
pub fn deadline(metadata: &MetadataMap, received: Instant) -> Result<Option<Instant>, Status> {
    let Some(value) = metadata.get("grpc-timeout") else {
        return Ok(None);
    };
    let timeout = value
        .to_str()
        .ok()
        .and_then(parse_grpc_timeout)
        .ok_or_else(|| {
            let shown: String = String::from_utf8_lossy(value.as_bytes())
                .chars()
                .take(32)
                .collect();
            Status::invalid_argument(format!(
                "malformed grpc-timeout header {shown:?}: expected 1 to 8 digits and a unit \
                 (H, M, S, m, u or n), e.g. 5S"
            ))
        })?;
    let margin = (timeout / 20).min(Duration::from_millis(100));
    Ok(Some(received + (timeout - margin)))
}

/// `grpc-timeout` is 1–8 ASCII digits and a unit: H, M, S, m, u or n.
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    // Bytes, not a str split: a multi-byte last character must not panic.
    let (&unit, digits) = value.as_bytes().split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_grpc_timeout_is_invalid_argument() {
        let received = Instant::now();
        let mut metadata = MetadataMap::new();
        assert_eq!(deadline(&metadata, received).unwrap(), None);
        metadata.insert("grpc-timeout", "10S".parse().unwrap());
        let at = deadline(&metadata, received).unwrap().unwrap();
        assert_eq!(at, received + Duration::from_millis(9900));
        metadata.insert("grpc-timeout", "5s".parse().unwrap());
        let status = deadline(&metadata, received).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("\"5s\""), "{}", status.message());
    }

    #[test]
    fn parses_grpc_timeout_units() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("300u"), Some(Duration::from_micros(300)));
        assert_eq!(parse_grpc_timeout("7n"), Some(Duration::from_nanos(7)));
        for bad in [
            "",
            "m",
            "123",
            "123456789S",
            "1x",
            "-1S",
            "1.5S",
            "١S",
            "5١",
            "1é",
        ] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    fn limits(requests: usize, chars: usize) -> QueueLimits {
        QueueLimits { requests, chars }
    }

    /// Polls `admit` once: queued (pending) or answered at once.
    fn poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
        let waker = futures::task::noop_waker();
        f.poll(&mut std::task::Context::from_waker(&waker))
    }

    #[tokio::test]
    async fn a_full_queue_fails_fast() {
        let admission = Arc::new(Admission::new(1, limits(1, usize::MAX)));
        let busy = admission.admit(10, None).await.unwrap();
        // One may wait…
        let mut waiter = std::pin::pin!(admission.admit(10, None));
        assert!(poll_once(waiter.as_mut()).is_pending());
        // …the next is turned away at once.
        let err = admission.admit(10, None).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        drop(busy);
        waiter.await.unwrap();
    }

    #[tokio::test]
    async fn the_queue_is_bounded_in_code_points() {
        let admission = Arc::new(Admission::new(1, limits(64, 1_000)));
        let _busy = admission.admit(5_000, None).await.unwrap();
        let mut waiter = std::pin::pin!(admission.admit(800, None));
        assert!(poll_once(waiter.as_mut()).is_pending());
        let err = admission.admit(300, None).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert!(err.message().contains("limit of 1000"), "{err:?}");
        // A small one still fits.
        let mut small = std::pin::pin!(admission.admit(200, None));
        assert!(poll_once(small.as_mut()).is_pending());
    }

    #[tokio::test]
    async fn a_passed_deadline_ends_the_wait() {
        let admission = Arc::new(Admission::new(1, limits(8, usize::MAX)));
        let _busy = admission.admit(10, None).await.unwrap();
        let err = admission
            .admit(10, Some(Instant::now() + Duration::from_millis(30)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::DeadlineExceeded);
        assert_eq!(admission.waiting.load(Ordering::Acquire), 0);
        assert_eq!(admission.work().queued_chars, 0);
    }

    #[tokio::test]
    async fn work_that_cannot_finish_before_its_deadline_is_refused_with_a_pushback() {
        let admission = Arc::new(Admission::new(1, limits(64, usize::MAX)));
        // Measured: 1,000 code points per second.
        admission
            .admit(1_000, None)
            .await
            .unwrap()
            .finished(Duration::from_secs(1));
        // 60 s of work runs; an article needing 2 s more, due in 10 s.
        let _busy = admission.admit(60_000, None).await.unwrap();
        let due = Instant::now() + Duration::from_secs(10);
        let err = match admission.admit(2_000, Some(due)).await {
            Err(err) => err,
            Ok(_) => panic!("admitted"),
        };
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert!(err.message().contains("after its deadline"), "{err:?}");
        let pushback: u64 = err
            .metadata()
            .get(RETRY_PUSHBACK)
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((59_000..=60_000).contains(&pushback), "{pushback}");
        // Without a deadline it waits as before; with a deadline it can
        // meet, too, and so does one it could not meet even alone (no other
        // replica would do better: it runs until its deadline).
        let mut patient = std::pin::pin!(admission.admit(2_000, None));
        assert!(poll_once(patient.as_mut()).is_pending());
        let far = Instant::now() + Duration::from_secs(600);
        let mut in_time = std::pin::pin!(admission.admit(2_000, Some(far)));
        assert!(poll_once(in_time.as_mut()).is_pending());
        let soon = Instant::now() + Duration::from_secs(1);
        let mut hopeless = std::pin::pin!(admission.admit(2_000, Some(soon)));
        assert!(poll_once(hopeless.as_mut()).is_pending());
    }

    #[tokio::test]
    async fn the_speed_is_the_whole_servers() {
        // Two analyses side by side: one that took 2 s for 1,000 code points
        // while another ran beside it means 1,000 code points per second.
        let admission = Arc::new(Admission::new(2, limits(8, usize::MAX)));
        let _a = admission.admit(1_000, None).await.unwrap();
        let b = admission.admit(1_000, None).await.unwrap();
        b.finished(Duration::from_secs(2));
        assert_eq!(admission.work().chars_per_second, Some(1_000.0));
    }

    #[tokio::test]
    async fn a_calibrated_server_refuses_from_the_first_request() {
        let admission = Arc::new(Admission::new(16, limits(64, usize::MAX)));
        admission.calibrate(1_000, Duration::from_secs(1));
        // Nothing has finished yet, and workers are free: the work ahead
        // (20 s running) still makes a 5 s article due in 10 s late.
        let _running = admission.admit(20_000, None).await.unwrap();
        let due = Instant::now() + Duration::from_secs(10);
        let err = admission.admit(5_000, Some(due)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert!(err.metadata().get(RETRY_PUSHBACK).is_some());
        let far = Instant::now() + Duration::from_secs(60);
        assert!(admission.admit(5_000, Some(far)).await.is_ok());
    }

    #[tokio::test]
    async fn work_is_counted_until_the_request_ends() {
        let admission = Arc::new(Admission::new(2, limits(8, usize::MAX)));
        let a = admission.admit(700, None).await.unwrap();
        assert_eq!(admission.work().running_chars, 700);
        drop(a);
        assert_eq!(admission.work().running_chars, 0);
        assert_eq!(
            admission.work().chars_per_second,
            None,
            "cancelled work measures nothing"
        );
    }
}
