//! A server started for the benchmark: on a free loopback port, timed from
//! spawn to SERVING, killed when dropped (so an error never leaves it
//! running).

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use super::grpc::is_serving;

/// Longest wait for SERVING (model loading and warm-up).
const START_LIMIT: Duration = Duration::from_secs(600);
const POLL_EVERY: Duration = Duration::from_millis(100);

pub struct Spawned {
    child: Child,
    pub url: String,
    /// Seconds from spawn to the first SERVING answer.
    pub startup_secs: f64,
}

impl Spawned {
    /// Starts `bin` with `argv` plus `--listen 127.0.0.1:<free port>`, its
    /// log going to `log`, and waits until it is SERVING.
    pub async fn start(bin: &Path, argv: &[String], log: &Path) -> Result<Self> {
        let port = free_port()?;
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let started = Instant::now();
        let mut command = Command::new(bin);
        command.args(argv);
        // The HTTP API stays off unless asked for: a compared pair of
        // servers would share its default port.
        if !argv.iter().any(|a| a.starts_with("--http-listen")) {
            command.arg("--http-listen=");
        }
        let child = command
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut server = Spawned {
            child,
            url: format!("http://127.0.0.1:{port}"),
            startup_secs: 0.0,
        };
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the server exited ({status}) before SERVING; see {}",
                    log.display()
                );
            }
            if is_serving(&server.url).await {
                server.startup_secs = started.elapsed().as_secs_f64();
                return Ok(server);
            }
            if started.elapsed() > START_LIMIT {
                bail!(
                    "the server was not SERVING after {START_LIMIT:?}; see {}",
                    log.display()
                );
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // Nothing of the server's state matters after a benchmark.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on now (the OS's choice for port 0). The
/// server binds it a moment later; another process taking it in between is
/// possible but unlikely, and shows as a start failure.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}
