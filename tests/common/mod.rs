//! Starting the real `khulasa-server` with the real models, on an ephemeral
//! port, for integration tests.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{mpsc, Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use khulasa::proto::{summarizer_client::SummarizerClient, AnalyzeRequest, Task};
use tonic::transport::Channel;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn models_dir() -> PathBuf {
    repo_root().join("models")
}

/// A running server process; killed on drop.
pub struct Server {
    child: Mutex<Child>,
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the server and returns once it listens (models may still load).
    pub fn start(extra_args: &[&str]) -> Server {
        Server::start_with_env(extra_args, &[])
    }

    /// [`Server::start`] with extra environment variables.
    pub fn start_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_khulasa-server"));
        command.arg("--listen").arg("127.0.0.1:0");
        if !extra_args.contains(&"--models") {
            command.arg("--models").arg(models_dir());
        }
        let mut child = command
            .args(extra_args)
            .env("RUST_LOG", "info,ort=warn")
            .env_remove("KHULASA_LISTEN")
            .env_remove("KHULASA_MODELS")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start khulasa-server");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = listening_addr(&line) {
                        let _ = addr_tx.send(addr);
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "server did not report its address; log: {:?}",
                    log.lock().unwrap()
                )
            });
        Server {
            child: Mutex::new(child),
            addr: format!("http://{addr}"),
            log,
        }
    }

    /// Starts the server and waits until health reports SERVING.
    pub async fn start_serving(extra_args: &[&str]) -> Server {
        let server = Server::start(extra_args);
        server.wait_serving().await;
        server
    }

    /// [`Server::start_serving`] with extra environment variables.
    pub async fn start_serving_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let server = Server::start_with_env(extra_args, env);
        server.wait_serving().await;
        server
    }

    pub async fn wait_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(status) = self.health("").await {
                if status == ServingStatus::Serving {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "server never became SERVING; log: {:?}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn health(&self, service: &str) -> Result<ServingStatus, tonic::Status> {
        let channel = Channel::from_shared(self.addr.clone())
            .unwrap()
            .connect()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let resp = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await?;
        Ok(ServingStatus::try_from(resp.into_inner().status).unwrap_or(ServingStatus::Unknown))
    }

    pub async fn client(&self) -> SummarizerClient<Channel> {
        let channel = Channel::from_shared(self.addr.clone())
            .unwrap()
            .connect()
            .await
            .expect("connect");
        SummarizerClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits until a log line satisfies `pred` (server state, not a timer;
    /// the bound only turns a hang into a failure).
    pub async fn wait_log(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + STATE_WAIT;
        loop {
            if let Some(line) = self.log().into_iter().find(|l| pred(l)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "never logged {what}; log: {:#?}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The `/metrics` URL from the "metrics endpoint ready" log line (the
    /// server must run with `--metrics-listen 127.0.0.1:0`).
    pub async fn metrics_url(&self) -> String {
        let line = self
            .wait_log("the metrics endpoint", |l| l.contains("metrics="))
            .await;
        let url = line.split("metrics=").nth(1).unwrap();
        url.split_whitespace()
            .next()
            .unwrap()
            .trim_matches('"')
            .to_string()
    }

    /// Polls the value of the metric `name` (no labels) until `pred` holds.
    pub async fn wait_metric(&self, name: &str, pred: impl Fn(f64) -> bool) -> f64 {
        let url = self.metrics_url().await;
        let deadline = Instant::now() + STATE_WAIT;
        loop {
            let url = url.clone();
            let text = tokio::task::spawn_blocking(move || scrape(&url))
                .await
                .unwrap();
            if let Some(v) = sample(&text, name, &[]).filter(|v| pred(*v)) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never reached the expected value:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.lock().unwrap().try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How long a test waits for a server state before failing: generous, so a
/// loaded machine only makes tests slower, never red.
pub const STATE_WAIT: Duration = Duration::from_secs(300);

/// A plain HTTP/1.1 GET of a metrics URL; the tests need nothing more.
pub fn scrape(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("url has a path");
    let mut stream = std::net::TcpStream::connect(host).expect("connect to metrics");
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the one sample of `name` whose labels include all of `labels`.
pub fn sample(exposition: &str, name: &str, labels: &[&str]) -> Option<f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

static SHARED: OnceLock<Server> = OnceLock::new();
static SHARED_PID: Mutex<Option<u32>> = Mutex::new(None);

extern "C" fn kill_shared_server() {
    if let Ok(Some(pid)) = SHARED_PID.lock().map(|p| *p) {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .status();
    }
}

/// One server shared by the tests of a test binary; it is killed when the
/// test process exits (statics are never dropped, so an `atexit` hook does it).
pub async fn shared_server() -> &'static Server {
    let server = SHARED.get_or_init(|| {
        let server = Server::start(&[]);
        *SHARED_PID.lock().unwrap() = Some(server.pid());
        // SAFETY: registering a plain `extern "C"` function with atexit.
        unsafe {
            libc::atexit(kill_shared_server);
        }
        server
    });
    server.wait_serving().await;
    server
}

/// The address of the "listening" log line, in text or JSON format.
fn listening_addr(line: &str) -> Option<String> {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(line) {
        return (json["message"] == "listening")
            .then(|| json["addr"].as_str().map(str::to_string))
            .flatten();
    }
    let addr = line
        .contains("listening")
        .then(|| line.split("addr=").nth(1))??;
    addr.split_whitespace().next().map(str::to_string)
}

pub fn request(id: &str, text: &str) -> AnalyzeRequest {
    AnalyzeRequest {
        id: id.to_string(),
        text: text.to_string(),
        ..Default::default()
    }
}

pub fn tasks(tasks: &[Task]) -> Vec<i32> {
    tasks.iter().map(|&t| t as i32).collect()
}

/// Python-style slicing by code points.
pub fn char_slice(text: &str, start: u32, end: u32) -> String {
    text.chars()
        .skip(start as usize)
        .take((end - start) as usize)
        .collect()
}
