//! Stopping a request's work early: the client went away or its deadline
//! passed. One [`StopSignal`] per request travels from the transport through
//! the pipeline down to the model loops (the batcher's wait, the wait for a
//! free session, the local batches, each seq2seq decoder step), so abandoned
//! work stops within one ONNX call instead of holding a worker to the end. A
//! leaf module: the layers below the pipeline use it without depending on
//! the pipeline.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    time::Instant,
};

/// Why work stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Stopped {
    #[error("the client cancelled the request")]
    Cancelled,
    #[error("the request's deadline passed during analysis")]
    DeadlineExceeded,
}

/// A request's cancellation flag and deadline. Clones share the flag.
/// Besides being checked between steps, it can be waited on
/// ([`StopSignal::wait_for`]): a thread blocked there wakes on a cancel, at
/// the deadline, or when another thread reports progress with
/// [`StopSignal::wake`], so waiting needs no polling interval.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Read on every check, so it is an atomic, not the mutex below.
    cancelled: AtomicBool,
    /// Held while a waiter looks at its condition and by every wake, so a
    /// wake between the look and the wait is never lost.
    lock: Mutex<()>,
    woken: Condvar,
}

impl StopSignal {
    pub fn new(deadline: Option<Instant>) -> Self {
        StopSignal {
            shared: Arc::default(),
            deadline,
        }
    }

    /// Never stops unless cancelled: for warm-ups, tools and tests.
    pub fn never() -> Self {
        StopSignal::default()
    }

    pub fn cancel(&self) {
        self.shared.cancelled.store(true, Ordering::Release);
        self.wake();
    }

    pub fn check(&self) -> Result<(), Stopped> {
        if self.shared.cancelled.load(Ordering::Acquire) {
            Err(Stopped::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Err(Stopped::DeadlineExceeded)
        } else {
            Ok(())
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.check().is_err()
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether `other` is a clone of this signal (they share the flag).
    pub(crate) fn same_as(&self, other: &StopSignal) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Wakes the threads in [`StopSignal::wait_for`] on this signal so they
    /// look at their condition again. Call it after changing what that
    /// condition reads (e.g. after storing a reply).
    pub fn wake(&self) {
        let _held = self.lock();
        self.shared.woken.notify_all();
    }

    /// Blocks until `ready` gives a value, or the signal stops (cancelled,
    /// or the deadline passed). `ready` runs at once and again after every
    /// [`StopSignal::wake`] or cancel; the stop is checked first, so a
    /// stopped signal wins over a ready value.
    pub fn wait_for<T>(&self, mut ready: impl FnMut() -> Option<T>) -> Result<T, Stopped> {
        let mut held = self.lock();
        loop {
            self.check()?;
            if let Some(value) = ready() {
                return Ok(value);
            }
            held = match self.deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.shared
                        .woken
                        .wait_timeout(held, left)
                        .map(|(held, _)| held)
                        .unwrap_or_else(|p| p.into_inner().0)
                }
                None => self
                    .shared
                    .woken
                    .wait(held)
                    .unwrap_or_else(|p| p.into_inner()),
            };
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.shared.lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stops_on_cancel_or_deadline() {
        let s = StopSignal::default();
        assert_eq!(s.check(), Ok(()));
        s.clone().cancel();
        assert_eq!(s.check(), Err(Stopped::Cancelled));
        let late = StopSignal::new(Some(Instant::now() - Duration::from_millis(1)));
        assert_eq!(late.check(), Err(Stopped::DeadlineExceeded));
    }

    #[test]
    fn a_waiter_wakes_on_a_reply_a_cancel_or_the_deadline() {
        // A reply from another thread.
        let s = StopSignal::never();
        let slot = Arc::new(Mutex::new(None));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                *slot.lock().unwrap() = Some(7);
                s.wake();
            });
            assert_eq!(s.wait_for(|| slot.lock().unwrap().take()), Ok(7));
        });

        // A cancel from another thread, with nothing ever ready.
        let s = StopSignal::never();
        let started = Instant::now();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                s.cancel();
            });
            assert_eq!(s.wait_for(|| None::<()>), Err(Stopped::Cancelled));
        });
        assert!(started.elapsed() < Duration::from_secs(5));

        // The deadline, with nobody waking it.
        let s = StopSignal::new(Some(Instant::now() + Duration::from_millis(30)));
        assert_eq!(s.wait_for(|| None::<()>), Err(Stopped::DeadlineExceeded));
        assert!(Instant::now() >= s.deadline().unwrap());
    }
}
