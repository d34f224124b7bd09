//! A fixed pool of ONNX sessions. `Session::run` needs `&mut self`, so each
//! concurrent inference takes a session out of the pool and puts it back.
//! A request waiting for a free session still answers its stop signal, so a
//! cancelled request or a passed deadline never waits on a busy pool.

use std::{
    path::Path,
    sync::{Mutex, MutexGuard},
};

use ort::session::{builder::GraphOptimizationLevel, Session};

use super::{ModelError, Runtime};
use crate::stop::{StopSignal, Stopped};

/// How many sessions a model gets and how many threads each may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLayout {
    /// Parallel sessions per model (requests running a model at once).
    pub sessions: usize,
    /// Intra-op threads of each session.
    pub intra_threads: usize,
}

impl Default for SessionLayout {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        SessionLayout {
            sessions: cores,
            intra_threads: 1,
        }
    }
}

pub struct SessionPool {
    sessions: Pool<Session>,
    inputs: Vec<String>,
}

impl SessionPool {
    pub fn load(
        runtime: &Runtime,
        model: &Path,
        layout: SessionLayout,
    ) -> Result<Self, ModelError> {
        let mut sessions = Vec::with_capacity(layout.sessions.max(1));
        for _ in 0..layout.sessions.max(1) {
            let session = Session::builder(runtime.environment())?
                .with_optimization_level(GraphOptimizationLevel::Level3)?
                .with_intra_threads(layout.intra_threads.max(1))?
                .with_inter_threads(1)?
                .commit_from_file(model)?;
            sessions.push(session);
        }
        let inputs = sessions[0]
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        Ok(SessionPool {
            sessions: Pool::new(sessions),
            inputs,
        })
    }

    /// Names of the model's inputs, to check it is the model we expect.
    pub fn input_names(&self) -> &[String] {
        &self.inputs
    }

    /// Runs `f` with exclusive use of one session, waiting for a free one
    /// unless `stop` fires first. Blocking: call it from a blocking thread,
    /// never from the async runtime.
    pub fn with_session<R>(
        &self,
        stop: &StopSignal,
        f: impl FnOnce(&mut Session) -> R,
    ) -> Result<R, Stopped> {
        self.sessions.with_item(stop, f)
    }
}

/// Items lent out one caller at a time. Waiters block in their own
/// [`StopSignal::wait_for`], so a returned item wakes them through their
/// signals and a cancel or deadline wakes them without one.
struct Pool<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    free: Vec<T>,
    /// The signals of the callers waiting for an item, woken on each return.
    waiters: Vec<StopSignal>,
}

impl<T> Pool<T> {
    fn new(items: Vec<T>) -> Self {
        Pool {
            state: Mutex::new(State {
                free: items,
                waiters: Vec::new(),
            }),
        }
    }

    fn with_item<R>(&self, stop: &StopSignal, f: impl FnOnce(&mut T) -> R) -> Result<R, Stopped> {
        let item = self.take(stop)?;
        // The guard puts the item back even if `f` panics, so the pool never
        // shrinks.
        let mut guard = Checkout {
            pool: self,
            item: Some(item),
        };
        match guard.item.as_mut() {
            Some(item) => Ok(f(item)),
            None => unreachable!("a checked-out item is present until drop"),
        }
    }

    fn take(&self, stop: &StopSignal) -> Result<T, Stopped> {
        // A stopped request gets no item, free or not.
        stop.check()?;
        {
            // Looking and registering under one lock: an item returned after
            // this finds the waiter and wakes it.
            let mut state = self.lock();
            if let Some(item) = state.free.pop() {
                return Ok(item);
            }
            state.waiters.push(stop.clone());
        }
        let taken = stop.wait_for(|| self.lock().free.pop());
        let mut state = self.lock();
        if let Some(i) = state.waiters.iter().position(|w| w.same_as(stop)) {
            state.waiters.swap_remove(i);
        }
        taken
    }

    fn give_back(&self, item: T) {
        let waiters = {
            let mut state = self.lock();
            state.free.push(item);
            state.waiters.clone()
        };
        // Woken outside the pool's lock: a waiter holds its signal's lock
        // while it looks at the pool, so waking under ours could deadlock.
        for waiter in waiters {
            waiter.wake();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Checkout<'a, T> {
    pool: &'a Pool<T>,
    item: Option<T>,
}

impl<T> Drop for Checkout<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool.give_back(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{
        sync::mpsc,
        time::{Duration, Instant},
    };

    /// Takes the pool's only item on a thread of `s` and holds it (adding
    /// one to it) until the returned sender sends; returns once it is taken.
    fn hold_the_item<'scope, 'env>(
        s: &'scope std::thread::Scope<'scope, 'env>,
        pool: &'env Pool<u32>,
    ) -> mpsc::Sender<()> {
        let (taken, held) = mpsc::channel();
        let (release, wait_release) = mpsc::channel::<()>();
        s.spawn(move || {
            pool.with_item(&StopSignal::never(), |item| {
                taken.send(()).unwrap();
                wait_release.recv().unwrap();
                *item += 1;
            })
            .unwrap();
        });
        held.recv().unwrap();
        release
    }

    #[test]
    fn a_waiter_gets_the_item_when_it_comes_back() {
        let pool = Pool::new(vec![1u32]);
        std::thread::scope(|s| {
            let release = hold_the_item(s, &pool);
            let waiter = s.spawn(|| pool.with_item(&StopSignal::never(), |item| *item));
            std::thread::sleep(Duration::from_millis(20));
            release.send(()).unwrap();
            assert_eq!(waiter.join().unwrap(), Ok(2));
        });
        assert!(pool.lock().waiters.is_empty());
    }

    #[test]
    fn a_waiter_stops_on_cancel_or_deadline_while_the_pool_is_busy() {
        let pool = Pool::new(vec![0u32]);
        std::thread::scope(|s| {
            let release = hold_the_item(s, &pool);
            let stop = StopSignal::never();
            let waiting = stop.clone();
            let started = Instant::now();
            let shared = &pool;
            let waiter = s.spawn(move || shared.with_item(&waiting, |_| ()));
            std::thread::sleep(Duration::from_millis(20));
            stop.cancel();
            assert_eq!(waiter.join().unwrap(), Err(Stopped::Cancelled));
            assert!(started.elapsed() < Duration::from_secs(5));

            let late = StopSignal::new(Some(Instant::now() + Duration::from_millis(30)));
            assert_eq!(
                pool.with_item(&late, |_| ()),
                Err(Stopped::DeadlineExceeded)
            );
            assert!(pool.lock().waiters.is_empty());
            release.send(()).unwrap();
        });
        // The item came back: the pool did not shrink.
        assert_eq!(pool.with_item(&StopSignal::never(), |_| 5), Ok(5));
    }

    #[test]
    fn a_stopped_request_gets_no_free_item() {
        let pool = Pool::new(vec![0u32]);
        let stop = StopSignal::never();
        stop.cancel();
        assert_eq!(pool.with_item(&stop, |_| ()), Err(Stopped::Cancelled));
        assert_eq!(pool.with_item(&StopSignal::never(), |_| 1), Ok(1));
    }

    #[test]
    fn a_panicking_caller_gives_the_item_back() {
        let pool = Pool::new(vec![0u32]);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.with_item(&StopSignal::never(), |_| panic!("boom"))
        }));
        assert!(panicked.is_err());
        assert_eq!(pool.with_item(&StopSignal::never(), |_| 1), Ok(1));
    }
}
