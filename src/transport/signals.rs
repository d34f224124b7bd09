//! The shutdown signals, listened for from start to exit.
//!
//! The listeners are made once and kept: a listener made after a signal
//! arrived never sees it, so making a fresh one for the second signal lost a
//! SIGINT sent while the first was being handled, and the process then sat
//! out the whole drain.

use std::io;

/// SIGTERM and SIGINT (only Ctrl-C off Unix), as one stream of names.
pub struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Starts listening; signals from here on are counted even while nobody
    /// awaits [`ShutdownSignals::next`].
    pub fn listen() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next signal's name.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}
