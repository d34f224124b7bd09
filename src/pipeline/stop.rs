//! Stopping an analysis early: the client went away or its deadline passed.
//! Checked between stages and between model batches, so abandoned work stops
//! within one batch instead of holding a worker to the end.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Instant,
};

/// Why an analysis stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Stopped {
    #[error("the client cancelled the request")]
    Cancelled,
    #[error("the request's deadline passed during analysis")]
    DeadlineExceeded,
}

#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    cancelled: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl StopSignal {
    pub fn new(deadline: Option<Instant>) -> Self {
        StopSignal {
            cancelled: Arc::default(),
            deadline,
        }
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    pub fn check(&self) -> Result<(), Stopped> {
        if self.cancelled.load(Ordering::Acquire) {
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

    /// The cancellation flag, for code that polls a bare `AtomicBool`.
    pub fn flag(&self) -> &AtomicBool {
        &self.cancelled
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
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
}
