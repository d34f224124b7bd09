//! Memory of a process from /proc/PID/status (Linux): the resident set now
//! (VmRSS) and its high-water mark (VmHWM), sampled while a level runs.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

/// How often VmRSS is read during a level.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// Resident memory of `pid` in bytes: `(VmRSS, VmHWM)`; `None` when it
/// cannot be read (no such process, not Linux).
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((
        field_kib(&status, "VmRSS")? * 1024,
        field_kib(&status, "VmHWM")? * 1024,
    ))
}

fn field_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// Samples VmRSS of a process in the background until dropped.
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&peak);
        let task = tokio::spawn(async move {
            loop {
                if let Some((rss, _)) = memory(pid) {
                    seen.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
        });
        RssSampler { peak, task }
    }

    /// The largest VmRSS seen so far, if any was read.
    pub fn peak(&self) -> Option<u64> {
        Some(self.peak.load(Ordering::Relaxed)).filter(|&b| b > 0)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory() {
        let (rss, hwm) = memory(std::process::id()).expect("/proc/self/status");
        assert!(rss > 0 && hwm >= rss, "{rss} {hwm}");
    }

    #[test]
    fn parses_kib_fields() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(field_kib(status, "VmRSS"), Some(1024));
        assert_eq!(field_kib(status, "VmHWM"), Some(2048));
        assert_eq!(field_kib(status, "VmSwap"), None);
    }
}
