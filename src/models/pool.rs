//! A fixed pool of ONNX sessions. `Session::run` needs `&mut self`, so each
//! concurrent inference takes a session out of the pool and puts it back.

use std::{
    path::Path,
    sync::{Condvar, Mutex},
};

use ort::session::{builder::GraphOptimizationLevel, Session};

use super::{ModelError, Runtime};

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
    free: Mutex<Vec<Session>>,
    returned: Condvar,
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
            free: Mutex::new(sessions),
            returned: Condvar::new(),
            inputs,
        })
    }

    /// Names of the model's inputs, to check it is the model we expect.
    pub fn input_names(&self) -> &[String] {
        &self.inputs
    }

    /// Runs `f` with exclusive use of one session, waiting for a free one.
    /// Blocking: call it from a blocking thread, never from the async runtime.
    pub fn with_session<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let session = loop {
            if let Some(s) = free.pop() {
                break s;
            }
            free = self.returned.wait(free).unwrap_or_else(|p| p.into_inner());
        };
        drop(free);
        // The guard puts the session back even if `f` panics, so the pool
        // never shrinks.
        let mut guard = Checkout {
            pool: self,
            session: Some(session),
        };
        match guard.session.as_mut() {
            Some(session) => f(session),
            None => unreachable!("a checked-out session is present until drop"),
        }
    }
}

struct Checkout<'a> {
    pool: &'a SessionPool,
    session: Option<Session>,
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.pool
                .free
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(s);
            self.pool.returned.notify_one();
        }
    }
}
