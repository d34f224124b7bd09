//! Starting the real `khulasa-server` with the real models, on an ephemeral
//! port, for integration tests: the server's own, and the client's
//! (client/tests), which include this module by path.
#![allow(dead_code)]

pub mod tls;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{mpsc, Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use khulasa::proto::{
    summarizer_client::SummarizerClient, AnalyzeRequest, GetInfoRequest, GetInfoResponse, Task,
};
use tonic::transport::Channel;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

/// The workspace root, whichever package's tests run.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .expect("Cargo.lock above the package")
        .to_path_buf()
}

/// `khulasa-server`. Cargo builds it for the server package's tests and
/// names it; the client's tests find it in their own target directory, where
/// `cargo test --workspace` has built it (`-p khulasa-client` alone does not:
/// then build it first, with `cargo build -p khulasa`).
pub fn server_exe() -> PathBuf {
    if let Some(exe) = option_env!("CARGO_BIN_EXE_khulasa-server") {
        return exe.into();
    }
    // target/<profile>/deps/<test> → target/<profile>/khulasa-server
    let exe = std::env::current_exe().expect("the test's own path");
    let server = exe
        .ancestors()
        .nth(2)
        .expect("a test binary lives in target/<profile>/deps")
        .join("khulasa-server");
    assert!(
        server.is_file(),
        "{} not found: build it with `cargo build -p khulasa` (same profile), or run `cargo test --workspace`",
        server.display()
    );
    server
}

pub fn models_dir() -> PathBuf {
    repo_root().join("models")
}

/// A running server process; killed on drop.
pub struct Server {
    child: Mutex<Child>,
    /// The gRPC endpoint, `http://host:port`.
    pub addr: String,
    /// The HTTP/JSON API's `host:port`, unless the test turned it off.
    pub http: Option<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the server and returns once it listens (models may still load).
    pub fn start(extra_args: &[&str]) -> Server {
        Server::start_with_env(extra_args, &[])
    }

    /// [`Server::start`] with extra environment variables.
    pub fn start_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(server_exe());
        command.arg("--listen").arg("127.0.0.1:0");
        // Never the default port: tests start servers side by side.
        if !extra_args.contains(&"--http-listen") {
            command.arg("--http-listen").arg("127.0.0.1:0");
        }
        if !extra_args.contains(&"--models") {
            command.arg("--models").arg(models_dir());
        }
        let mut child = command
            .args(extra_args)
            .env("RUST_LOG", "info,ort=warn")
            .env_remove("KHULASA_LISTEN")
            .env_remove("KHULASA_MODELS")
            .env_remove("KHULASA_HTTP_LISTEN")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start khulasa-server");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let (http_tx, http_rx) = mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(addr) = listening_addr(&line, "listening", "addr") {
                        let _ = addr_tx.send(addr);
                    }
                    if let Some(addr) = listening_addr(&line, "HTTP API listening", "http_addr") {
                        let _ = http_tx.send(addr);
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
        // The HTTP API, when on, is logged before gRPC's address.
        let http = http_rx.try_recv().ok();
        Server {
            child: Mutex::new(child),
            addr: format!("http://{addr}"),
            http,
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

    /// What the server says of itself (GetInfo), over a fresh connection.
    pub async fn info(&self) -> GetInfoResponse {
        self.client()
            .await
            .get_info(GetInfoRequest {})
            .await
            .expect("get_info")
            .into_inner()
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

/// The address in field `field` of the log line whose message is `message`,
/// in text or JSON format.
fn listening_addr(line: &str, message: &str, field: &str) -> Option<String> {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(line) {
        return (json["message"] == message)
            .then(|| json[field].as_str().map(str::to_string))
            .flatten();
    }
    // Text: `… khulasa::transport::server: <message> <field>=<addr> …`.
    let rest = line.split(": ").skip(1).find(|r| r.starts_with(message))?;
    let rest = rest.strip_prefix(message)?.strip_prefix(' ')?;
    let addr = rest
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(field)?.strip_prefix('='))?;
    Some(addr.to_string())
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

/// One HTTP/1.1 exchange over a plain TCP connection.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `head` (request line and headers, CRLF-separated, without the
/// blank line) and then `body` as is, and reads the answer to the end
/// (`Connection: close` is added). No Content-Length is added: the caller
/// says what it declares, so it can declare more than it sends.
pub async fn http_raw(addr: &str, head: &str, body: &[u8]) -> HttpResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the HTTP API");
    let head = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream.write_all(body).await.expect("send body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    assert!(!chunked, "the server sends sized bodies");
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// `method path` with `headers` and a sized `body`.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut head = format!("{method} {path} HTTP/1.1\r\nContent-Length: {}", body.len());
    for (k, v) in headers {
        head.push_str(&format!("\r\n{k}: {v}"));
    }
    http_raw(addr, &head, body).await
}

/// Whatever the peer answers to `head` (`Connection: close`), read until it
/// closes; empty or garbage when it does not speak plain HTTP.
pub async fn http_try(addr: &str, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    let head = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    String::from_utf8_lossy(&raw).to_string()
}
