//! Admission control: a bounded queue in front of the analysis workers and
//! the client's deadline (`grpc-timeout`), so overload fails fast with
//! RESOURCE_EXHAUSTED and work nobody waits for never reaches a model.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};
use tonic::{metadata::MetadataMap, Status};

use super::metrics::{self, GaugeGuard};

/// The workers (articles analyzed at once) and the queue waiting for them.
pub struct Admission {
    workers: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl Admission {
    pub fn new(max_concurrent: usize, max_waiting: usize) -> Self {
        Admission {
            workers: Arc::new(Semaphore::new(max_concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// Waits for a worker, unless the queue is full or the deadline passes
    /// first. Dropping the returned future (the client went away) leaves the
    /// queue at once.
    pub async fn admit(&self, deadline: Option<Instant>) -> Result<OwnedSemaphorePermit, Status> {
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(Status::deadline_exceeded(
                "deadline passed before the request was admitted",
            ));
        }
        if let Ok(permit) = Arc::clone(&self.workers).try_acquire_owned() {
            return Ok(permit);
        }
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&self.waiting);
        let _depth = GaugeGuard::raise(metrics::QUEUE_DEPTH);
        if waiting >= self.max_waiting {
            return Err(super::status::retry_later(
                tonic::Code::ResourceExhausted,
                format!(
                    "server overloaded: {waiting} requests already queued (limit {}); retry later or add replicas",
                    self.max_waiting
                ),
                super::status::RETRY_DELAY,
            ));
        }
        let acquire = Arc::clone(&self.workers).acquire_owned();
        let permit = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, acquire)
                .await
                .map_err(|_| {
                    Status::deadline_exceeded("deadline passed while the request was queued")
                })?,
            None => acquire.await,
        };
        permit.map_err(|_| {
            super::status::retry_later(
                tonic::Code::Unavailable,
                "server is shutting down",
                Duration::ZERO,
            )
        })
    }
}

/// Decrements the queue counter however the wait ends.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
pub fn deadline(metadata: &MetadataMap, received: Instant) -> Option<Instant> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    let timeout = parse_grpc_timeout(value)?;
    let margin = (timeout / 20).min(Duration::from_millis(100));
    Some(received + (timeout - margin))
}

/// `grpc-timeout` is 1–8 ASCII digits and a unit: H, M, S, m, u or n.
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grpc_timeout_units() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("300u"), Some(Duration::from_micros(300)));
        assert_eq!(parse_grpc_timeout("7n"), Some(Duration::from_nanos(7)));
        for bad in ["", "m", "123", "123456789S", "1x", "-1S", "1.5S", "١S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_full_queue_fails_fast() {
        let admission = Arc::new(Admission::new(1, 1));
        let busy = admission.admit(None).await.unwrap();
        // One may wait…
        let waiter = {
            let admission = Arc::clone(&admission);
            tokio::spawn(async move { admission.admit(None).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        // …the next is turned away at once.
        let err = admission.admit(None).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        drop(busy);
        waiter.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_passed_deadline_ends_the_wait() {
        let admission = Admission::new(1, 8);
        let _busy = admission.admit(None).await.unwrap();
        let err = admission
            .admit(Some(Instant::now() + Duration::from_millis(30)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::DeadlineExceeded);
        assert_eq!(admission.waiting.load(Ordering::Acquire), 0);
    }
}
