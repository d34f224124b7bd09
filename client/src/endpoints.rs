//! Server addresses, one tonic [`Channel`] per endpoint, client-side load
//! balancing and retries.
//!
//! Balancing is done here rather than with tonic's `balance_list` because we
//! want control over *which* endpoint a retry goes to (the next one, not the
//! one that just failed) and a per-endpoint in-flight count for least-loaded
//! picks. Each channel is created lazily so one dead server does not stop the
//! others from being used; it reconnects by itself when the server returns.

use std::{
    fmt,
    future::Future,
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use tonic::{
    metadata::AsciiMetadataValue,
    transport::{Channel, ClientTlsConfig, Endpoint, Uri},
    Code, Status,
};
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

use super::record::code_name;
use khulasa::proto::{self, summarizer_client::SummarizerClient};

/// How long one request may spend waiting between attempts (the backoff
/// sleeps, not the attempts themselves) before a retryable failure is given
/// up: longer than a restarted replica takes to load its models even on a
/// busy machine, so a rollout or crash behind a proxy that does not
/// health-check (nginx) never turns into failed items. A budget in time, not
/// a count, because that is what the wait is for; with the backoff below it
/// allows about 20 attempts.
pub const RETRY_BUDGET: Duration = Duration::from_secs(30);
/// Backoff before the second attempt; doubled for each further one.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// How long an endpoint that failed with a retryable error is passed over
/// while other endpoints are available.
const AVOID_AFTER_FAILURE: Duration = Duration::from_secs(2);
/// Backoff never grows beyond this.
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Responses carry the article's entities; allow more than tonic's 4 MiB
/// default so a long article's answer is never refused by the client.
const MAX_DECODING_BYTES: usize = 64 << 20;
/// The gRPC health service name of the Summarizer.
pub const SUMMARIZER_SERVICE: &str = "khulasa.v1.Summarizer";

/// Turns what the user typed into a URI tonic accepts: `host:port` gets
/// `http://`, or `https://` when `tls` is on; a trailing `/` is dropped. The
/// scheme must agree with `tls`, so a TLS server is never spoken to in plain
/// text by mistake, nor the other way round.
pub fn normalize_endpoint(raw: &str, tls: bool) -> Result<String> {
    let s = raw.trim();
    if s.is_empty() {
        bail!("empty endpoint");
    }
    let scheme = if tls { "https" } else { "http" };
    let with_scheme = match s.split_once("://") {
        Some((given, _)) if given.eq_ignore_ascii_case(scheme) => s.to_string(),
        Some((given, _)) if given.eq_ignore_ascii_case("https") => {
            bail!("endpoint {s:?}: https needs --tls-ca (the CA that signed the server's certificate)")
        }
        Some((given, _)) if given.eq_ignore_ascii_case("http") => {
            bail!("endpoint {s:?}: TLS options are set, so use https:// or just host:port")
        }
        Some((given, _)) => {
            bail!("endpoint {s:?}: unsupported scheme {given:?}; use {scheme}://host:port")
        }
        None => format!("{scheme}://{s}"),
    };
    let uri: Uri = with_scheme
        .parse()
        .with_context(|| format!("endpoint {s:?} is not a valid host:port or URL"))?;
    let authority = uri
        .authority()
        .with_context(|| format!("endpoint {s:?} has no host"))?;
    if authority.host().is_empty() {
        bail!("endpoint {s:?} has no host");
    }
    // `http::Uri` accepts `host:junk`; only a numeric port may follow the host.
    if authority.as_str().len() > authority.host().len() && authority.port_u16().is_none() {
        bail!("endpoint {s:?}: the port is not a number");
    }
    if authority.as_str().contains('@') {
        bail!("endpoint {s:?}: user info in the URL is not supported");
    }
    if let Some(pq) = uri.path_and_query() {
        if pq.as_str() != "/" && !pq.as_str().is_empty() {
            bail!(
                "endpoint {s:?}: a path or query is not supported, give only {scheme}://host:port"
            );
        }
    }
    Ok(format!("{scheme}://{authority}"))
}

/// Normalizes every endpoint and drops repeats (keeping the first), so a
/// server listed twice does not get twice the share of requests.
pub fn normalize_all(raw: &[String], tls: bool) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for r in raw {
        let url = normalize_endpoint(r, tls)?;
        if !out.contains(&url) {
            out.push(url);
        }
    }
    if out.is_empty() {
        bail!("no endpoint given");
    }
    Ok(out)
}

/// Whether a failed call may succeed on another endpoint (or the same one a
/// moment later). Every call this client makes is idempotent, so a call cut
/// off mid-flight may be sent again. Retryable:
/// - UNAVAILABLE: refused connections (tonic maps connect errors to it), a
///   draining server, a proxy with no live upstream;
/// - RESOURCE_EXHAUSTED from a busy server, unless it is about the message
///   size, which no endpoint will accept either;
/// - the connection breaking under a call: a server killed mid-request
///   (UNKNOWN "transport error"), a reset HTTP/2 stream or connection, a
///   proxy's 502/503/504 page instead of a gRPC answer; see
///   [`is_broken_connection`];
/// - CANCELLED that is not our deadline ([`Pool::call`] turns that one into
///   DEADLINE_EXCEEDED first): this client never cancels, so the server or a
///   proxy dropped the call.
pub fn is_retryable(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable | Code::Cancelled => true,
        Code::ResourceExhausted => {
            let m = status.message().to_ascii_lowercase();
            !(m.contains("too large") || m.contains("message length"))
        }
        Code::Unknown | Code::Internal => is_broken_connection(status),
        _ => false,
    }
}

/// Whether an UNKNOWN/INTERNAL status came from below gRPC rather than from
/// the server's handler: tonic's transport error in the source chain (the
/// connection died under the call), an HTTP/2 stream or connection error,
/// or a gateway error page that tonic tried to read as a gRPC body
/// ("... while receiving response with status: 502 Bad Gateway").
fn is_broken_connection(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        if err.is::<tonic::transport::Error>() || err.is::<std::io::Error>() {
            return true;
        }
        source = err.source();
    }
    let m = status.message();
    m.starts_with("h2 protocol error")
        || ["502", "503", "504"]
            .iter()
            .any(|code| m.contains(&format!("with status: {code} ")))
}

/// A failed call and where it went.
#[derive(Debug)]
pub struct CallError {
    /// The final status.
    pub status: Status,
    /// The endpoint that gave it.
    pub endpoint: String,
    /// How many attempts were made.
    pub attempts: u32,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.status.code() as i32;
        write!(f, "{} ({code}) from {}", code_name(code), self.endpoint)?;
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        write!(f, ": {}", self.status.message())
    }
}

impl std::error::Error for CallError {}

/// One server.
#[derive(Debug)]
struct Slot {
    url: String,
    channel: Channel,
    /// Requests currently sent to this endpoint, for least-loaded picks.
    in_flight: AtomicUsize,
    /// Until when (ms since [`Pool::epoch`]) new requests avoid this
    /// endpoint because it just failed with a retryable error; 0 = not
    /// avoided. Keeps a dead server from taking (and failing) its round-robin
    /// share of first attempts.
    avoid_until_ms: AtomicU64,
}

/// Decrements an endpoint's in-flight count however the call ends
/// (including when its future is dropped).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How to reach the servers.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Per-attempt time limit, also sent as the gRPC deadline.
    pub timeout: Duration,
    /// TLS (and a client identity for mutual TLS); endpoints are `https://`.
    pub tls: Option<ClientTlsConfig>,
    /// Sent as `authorization` on Summarizer calls.
    pub authorization: Option<AsciiMetadataValue>,
}

impl ConnectOptions {
    pub fn plain(timeout: Duration) -> Self {
        ConnectOptions {
            timeout,
            tls: None,
            authorization: None,
        }
    }
}

/// The endpoints, balanced least-loaded with round-robin tie-breaking.
#[derive(Debug)]
pub struct Pool {
    slots: Vec<Slot>,
    /// Where the next tie-breaking scan starts.
    next: AtomicUsize,
    timeout: Duration,
    /// The least time left worth a retry: enough for a connection attempt,
    /// so a retry cut off by the deadline never hides why the call failed.
    min_attempt: Duration,
    /// `Bearer <token>`, marked sensitive so it never shows in a `Debug`.
    authorization: Option<AsciiMetadataValue>,
    /// Origin of the `avoid_until_ms` clocks.
    epoch: Instant,
}

impl Pool {
    /// Creates lazy channels to the (already normalized) endpoints; nothing
    /// is connected yet.
    pub fn new(urls: Vec<String>, options: ConnectOptions) -> Result<Self> {
        let ConnectOptions {
            timeout,
            tls,
            authorization,
        } = options;
        if urls.is_empty() {
            bail!("no endpoint given");
        }
        // Connect failures should surface as UNAVAILABLE (retryable) well
        // before the request deadline, not as a deadline.
        let connect_timeout = (timeout / 2).min(Duration::from_secs(5));
        let slots = urls
            .into_iter()
            .map(|url| {
                let mut endpoint = Endpoint::from_shared(url.clone())
                    .with_context(|| format!("invalid endpoint {url}"))?;
                if let Some(tls) = &tls {
                    endpoint = endpoint
                        .tls_config(tls.clone())
                        .with_context(|| format!("TLS settings for {url}"))?;
                }
                let endpoint = endpoint
                    .connect_timeout(connect_timeout)
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_timeout(Duration::from_secs(10));
                Ok(Slot {
                    url,
                    channel: endpoint.connect_lazy(),
                    in_flight: AtomicUsize::new(0),
                    avoid_until_ms: AtomicU64::new(0),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Pool {
            slots,
            next: AtomicUsize::new(0),
            timeout,
            min_attempt: connect_timeout,
            authorization,
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether endpoint `i` failed recently and should be passed over.
    fn avoided(&self, i: usize, now_ms: u64) -> bool {
        self.slots[i].avoid_until_ms.load(Ordering::Relaxed) > now_ms
    }

    /// The least-loaded endpoint among those not recently failed (or among
    /// all, if all failed); among equals, rotate so that a quiet pool still
    /// spreads requests round-robin.
    fn pick(&self) -> usize {
        let n = self.slots.len();
        let now = self.now_ms();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (0..n)
            .map(|k| (start + k) % n)
            .min_by_key(|&i| {
                (
                    self.avoided(i, now),
                    self.slots[i].in_flight.load(Ordering::Relaxed),
                )
            })
            .unwrap_or(0)
    }

    /// The endpoint a retry goes to: the next one after `idx` that has not
    /// failed recently, or simply the next one if all have.
    fn next_after(&self, idx: usize) -> usize {
        let n = self.slots.len();
        let now = self.now_ms();
        (1..n)
            .map(|k| (idx + k) % n)
            .find(|&i| !self.avoided(i, now))
            .unwrap_or((idx + 1) % n)
    }

    /// Runs `call` on a balanced endpoint, retrying retryable failures on the
    /// next endpoint with exponential backoff while the backoff adds up to no
    /// more than [`RETRY_BUDGET`]. The timeout bounds the whole call, retries
    /// included, as a gRPC deadline does: each attempt gets the time left,
    /// and no retry starts with less left than a connection attempt may
    /// take, so a call that keeps failing ends with its own error rather
    /// than a deadline.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, CallError>
    where
        F: FnMut(Channel, Duration) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        self.call_at(call).await.map(|(v, _)| v)
    }

    /// [`Pool::call`], also saying which endpoint (index) answered.
    async fn call_at<T, F, Fut>(&self, mut call: F) -> Result<(T, usize), CallError>
    where
        F: FnMut(Channel, Duration) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut idx = self.pick();
        let mut attempt = 1;
        let mut waited = Duration::ZERO;
        // tokio's clock, so tests with a paused clock see the same time.
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let slot = &self.slots[idx];
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let result = {
                let _guard = InFlight::enter(&slot.in_flight);
                let sent = tokio::time::Instant::now();
                match tokio::time::timeout(left, call(slot.channel.clone(), left)).await {
                    // tonic reports an expired `grpc-timeout` (ours, enforced
                    // by the server) as CANCELLED; this client never cancels,
                    // so a CANCELLED at the deadline is the deadline.
                    Ok(Err(s))
                        if s.code() == Code::Cancelled && sent.elapsed() >= left.mul_f64(0.9) =>
                    {
                        Err(self.deadline_status(s.message()))
                    }
                    Ok(r) => r,
                    Err(_) => Err(self.deadline_status("")),
                }
            };
            match &result {
                Ok(_) => slot.avoid_until_ms.store(0, Ordering::Relaxed),
                Err(status) if is_retryable(status) => {
                    let until = self
                        .now_ms()
                        .saturating_add(AVOID_AFTER_FAILURE.as_millis() as u64);
                    slot.avoid_until_ms.store(until, Ordering::Relaxed);
                }
                Err(_) => {}
            }
            let delay = backoff(attempt);
            match result {
                Ok(v) => return Ok((v, idx)),
                Err(status)
                    if waited + delay <= RETRY_BUDGET
                        && tokio::time::Instant::now() + delay + self.min_attempt <= deadline
                        && is_retryable(&status) =>
                {
                    waited += delay;
                    tracing::debug!(
                        endpoint = %slot.url, attempt, code = ?status.code(),
                        message = status.message(), ?delay, "retrying on the next endpoint"
                    );
                    tokio::time::sleep(delay).await;
                    idx = self.next_after(idx);
                    attempt += 1;
                }
                Err(status) => {
                    return Err(CallError {
                        status,
                        endpoint: slot.url.clone(),
                        attempts: attempt,
                    })
                }
            }
        }
    }

    fn deadline_status(&self, detail: &str) -> Status {
        let mut msg = format!("no answer within {:.1} s", self.timeout.as_secs_f64());
        if !detail.is_empty() {
            msg = format!("{msg} ({detail})");
        }
        Status::deadline_exceeded(msg)
    }

    /// A Summarizer request with the deadline and credentials.
    fn request<T>(&self, message: T, timeout: Duration) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(timeout);
        if let Some(auth) = &self.authorization {
            request.metadata_mut().insert("authorization", auth.clone());
        }
        request
    }

    /// `Analyze` with balancing and retries.
    pub async fn analyze(
        &self,
        req: proto::AnalyzeRequest,
    ) -> Result<proto::AnalyzeResponse, CallError> {
        self.call(|channel, timeout| {
            let req = req.clone();
            async move {
                let request = self.request(req, timeout);
                summarizer(channel)
                    .analyze(request)
                    .await
                    .map(|r| r.into_inner())
            }
        })
        .await
    }

    /// `GetInfo` from whichever endpoint answers, with that endpoint's URL.
    pub async fn get_info(&self) -> Result<(String, proto::GetInfoResponse), CallError> {
        let (info, idx) = self
            .call_at(|channel, timeout| async move {
                let request = self.request(proto::GetInfoRequest {}, timeout);
                summarizer(channel)
                    .get_info(request)
                    .await
                    .map(|r| r.into_inner())
            })
            .await?;
        Ok((self.slots[idx].url.clone(), info))
    }

    /// Health of every endpoint: `(url, overall, summarizer)`, each either
    /// a serving status name or a description of why it could not be read.
    pub async fn health(&self) -> Vec<(String, HealthState, HealthState)> {
        let checks = self.slots.iter().map(|slot| async move {
            let overall = self.check_health(&slot.channel, "").await;
            let service = self.check_health(&slot.channel, SUMMARIZER_SERVICE).await;
            (slot.url.clone(), overall, service)
        });
        futures::future::join_all(checks).await
    }

    async fn check_health(&self, channel: &Channel, service: &str) -> HealthState {
        let mut request = tonic::Request::new(HealthCheckRequest {
            service: service.to_string(),
        });
        request.set_timeout(self.timeout);
        let mut client = HealthClient::new(channel.clone());
        match tokio::time::timeout(self.timeout, client.check(request)).await {
            Ok(Ok(resp)) => {
                let status = resp.into_inner().status;
                match ServingStatus::try_from(status) {
                    Ok(s) => HealthState::Status(s),
                    Err(_) => HealthState::Failed(format!("unknown serving status {status}")),
                }
            }
            // The health protocol answers NOT_FOUND for a service it does not know.
            Ok(Err(s)) if s.code() == Code::NotFound => {
                HealthState::Failed("SERVICE_UNKNOWN".into())
            }
            Ok(Err(s)) => HealthState::Failed(format!(
                "{} ({}): {}",
                code_name(s.code() as i32),
                s.code() as i32,
                s.message()
            )),
            Err(_) => HealthState::Failed(format!(
                "DEADLINE_EXCEEDED: no answer within {:?}",
                self.timeout
            )),
        }
    }

    /// Checks that at least one endpoint answers at all (any gRPC answer,
    /// even an error, proves a server is there). Returns the ones that do
    /// not, with the reason; an error if none does.
    pub async fn require_reachable(&self) -> Result<Vec<(String, String)>> {
        let probes = self.slots.iter().map(|slot| async move {
            let state = self.check_health(&slot.channel, "").await;
            (slot.url.clone(), state)
        });
        let results = futures::future::join_all(probes).await;
        let mut down = Vec::new();
        for (url, state) in results {
            if let HealthState::Failed(why) = state {
                if why.starts_with("UNAVAILABLE") || why.starts_with("DEADLINE_EXCEEDED") {
                    down.push((url, why));
                }
            }
        }
        if down.len() == self.slots.len() {
            let detail: Vec<String> = down.iter().map(|(u, w)| format!("{u}: {w}")).collect();
            bail!("no endpoint is reachable ({})", detail.join("; "));
        }
        Ok(down)
    }
}

/// What a health check said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthState {
    /// The server answered with this status.
    Status(ServingStatus),
    /// No status could be read; why.
    Failed(String),
}

impl HealthState {
    /// Whether this is SERVING.
    pub fn is_serving(&self) -> bool {
        matches!(self, HealthState::Status(ServingStatus::Serving))
    }
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HealthState::Status(s) => f.write_str(s.as_str_name()),
            HealthState::Failed(why) => f.write_str(why),
        }
    }
}

fn summarizer(channel: Channel) -> SummarizerClient<Channel> {
    SummarizerClient::new(channel).max_decoding_message_size(MAX_DECODING_BYTES)
}

/// Delay before attempt `attempt + 1`: base · 2^(attempt-1), capped, plus up
/// to 25 % jitter so that many failed requests do not all come back at once.
fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE
        .saturating_mul(1 << (attempt - 1).min(16))
        .min(BACKOFF_MAX);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    exp + exp.mul_f64(f64::from(nanos % 1000) / 4000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn normalizes_endpoints() {
        for (raw, want) in [
            ("127.0.0.1:50051", "http://127.0.0.1:50051"),
            ("localhost:8080", "http://localhost:8080"),
            ("  http://example.com:9000/ ", "http://example.com:9000"),
            ("HTTP://example.com:9000", "http://example.com:9000"),
            ("[::1]:50051", "http://[::1]:50051"),
            ("http://[::1]:50051", "http://[::1]:50051"),
            ("example.com", "http://example.com"),
        ] {
            assert_eq!(normalize_endpoint(raw, false).unwrap(), want, "{raw}");
        }
        for bad in [
            "",
            "  ",
            "https://h:443",
            "grpc://h:1",
            "http://h:1/api",
            "h:1?x=1",
            "http://",
            "user@h:1",
            "h:notaport",
        ] {
            assert!(
                normalize_endpoint(bad, false).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn normalize_all_dedupes() {
        let raw = ["a:1", "http://a:1", "b:2"].map(String::from);
        assert_eq!(
            normalize_all(&raw, false).unwrap(),
            ["http://a:1", "http://b:2"]
        );
        assert!(normalize_all(&[], false).is_err());
    }

    #[test]
    fn tls_endpoints_use_https_only() {
        assert_eq!(normalize_endpoint("h:443", true).unwrap(), "https://h:443");
        assert_eq!(
            normalize_endpoint("HTTPS://h:443/", true).unwrap(),
            "https://h:443"
        );
        let plain = normalize_endpoint("http://h:1", true).unwrap_err();
        assert!(plain.to_string().contains("TLS options are set"), "{plain}");
        let no_ca = normalize_endpoint("https://h:1", false).unwrap_err();
        assert!(no_ca.to_string().contains("--tls-ca"), "{no_ca}");
    }

    #[test]
    fn retryable_codes() {
        assert!(is_retryable(&Status::unavailable("tcp connect error")));
        assert!(is_retryable(&Status::resource_exhausted("server busy")));
        assert!(!is_retryable(&Status::resource_exhausted(
            "Error, decoded message length too large: found 9 bytes, the limit is: 4 bytes"
        )));
        assert!(!is_retryable(&Status::invalid_argument("empty text")));
        assert!(!is_retryable(&Status::deadline_exceeded("slow")));
        assert!(!is_retryable(&Status::internal("bug")));
        assert!(!is_retryable(&Status::unknown("handler failed")));
        assert!(!is_retryable(&Status::failed_precondition("no model")));
        // The connection broke under the call, or a proxy answered for a
        // dead upstream: the same request may go elsewhere.
        assert!(is_retryable(&Status::cancelled("stream reset")));
        assert!(is_retryable(&Status::internal(
            "h2 protocol error: stream error received: unexpected internal error encountered"
        )));
        assert!(is_retryable(&Status::internal(
            "protocol error: received message with invalid compression flag: 60 (valid flags are 0 and 1) \
             while receiving response with status: 502 Bad Gateway"
        )));
        assert!(!is_retryable(&Status::internal(
            "protocol error: received message with invalid compression flag: 60 (valid flags are 0 and 1) \
             while receiving response with status: 500 Internal Server Error"
        )));
    }

    #[tokio::test]
    async fn a_server_killed_mid_call_is_retryable() {
        // A server that accepts the connection, reads a little and drops it
        // without answering: what a killed replica looks like to a call
        // already sent to it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 64];
                let _ = conn.read(&mut buf).await;
                drop(conn);
            }
        });
        let pool = Pool::new(
            vec![format!("http://{addr}")],
            ConnectOptions::plain(Duration::from_secs(5)),
        )
        .unwrap();
        let req = proto::AnalyzeRequest {
            id: "a".into(),
            text: "نص".into(),
            ..Default::default()
        };
        let mut client = summarizer(pool.slots[0].channel.clone());
        let status = client.analyze(req).await.unwrap_err();
        server.abort();
        assert!(
            is_retryable(&status),
            "{:?}: {} should be retried",
            status.code(),
            status.message()
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(
            backoff(1) >= Duration::from_millis(100) && backoff(1) <= Duration::from_millis(125)
        );
        assert!(backoff(2) >= Duration::from_millis(200));
        assert!(backoff(4) >= Duration::from_millis(800));
        assert!(backoff(30) <= BACKOFF_MAX + BACKOFF_MAX / 4);
    }

    fn pool(n: usize) -> Pool {
        pool_with_timeout(n, Duration::from_secs(5))
    }

    fn pool_with_timeout(n: usize, timeout: Duration) -> Pool {
        let urls = (0..n)
            .map(|i| format!("http://127.0.0.1:{}", 1 + i))
            .collect();
        Pool::new(urls, ConnectOptions::plain(timeout)).unwrap()
    }

    #[tokio::test]
    async fn picks_least_loaded_then_rotates() {
        let pool = pool(3);
        pool.slots[0].in_flight.store(2, Ordering::Relaxed);
        pool.slots[2].in_flight.store(1, Ordering::Relaxed);
        assert_eq!(pool.pick(), 1);
        pool.slots[1].in_flight.store(2, Ordering::Relaxed);
        assert_eq!(pool.pick(), 2);
        // All equal: round-robin.
        for s in &pool.slots {
            s.in_flight.store(0, Ordering::Relaxed);
        }
        let picks: Vec<usize> = (0..3).map(|_| pool.pick()).collect();
        let mut sorted = picks.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2], "{picks:?}");
    }

    #[tokio::test]
    async fn retries_unavailable_on_the_next_endpoint() {
        let pool = pool(3);
        let tries = AtomicU32::new(0);
        let (value, idx) = pool
            .call_at(|_, _| {
                let n = tries.fetch_add(1, Ordering::Relaxed);
                async move {
                    if n == 0 {
                        Err(Status::unavailable("connection refused"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(value, 1);
        assert_eq!(
            idx, 1,
            "first pick is endpoint 0, the retry goes to the next"
        );
        assert!(pool
            .slots
            .iter()
            .all(|s| s.in_flight.load(Ordering::Relaxed) == 0));
        // Endpoint 0 failed: first attempts avoid it for a while.
        assert!(pool.avoided(0, pool.now_ms()));
        assert!((0..10).all(|_| pool.pick() != 0));
        assert_eq!(pool.next_after(2), 1, "a retry skips the failed endpoint");
    }

    #[tokio::test]
    async fn does_not_retry_invalid_argument() {
        let pool = pool(2);
        let tries = AtomicU32::new(0);
        let err = pool
            .call(|_, _| {
                tries.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(Status::invalid_argument("empty text")) }
            })
            .await
            .unwrap_err();
        assert_eq!(tries.load(Ordering::Relaxed), 1);
        assert_eq!(err.attempts, 1);
        assert_eq!(err.status.code(), Code::InvalidArgument);
        assert_eq!(
            err.to_string(),
            "INVALID_ARGUMENT (3) from http://127.0.0.1:1: empty text"
        );
    }

    // The paused clock runs the backoff sleeps at once, in tokio's time.
    #[tokio::test(start_paused = true)]
    async fn gives_up_when_the_retry_budget_is_spent() {
        // A timeout longer than the budget, so the budget is what ends it.
        let pool = pool_with_timeout(2, RETRY_BUDGET * 3);
        let tries = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let err = pool
            .call(|_, _| {
                tries.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(Status::resource_exhausted("busy")) }
            })
            .await
            .unwrap_err();
        let waited = start.elapsed();
        // It waited as long as the budget allows, give or take one backoff.
        assert!(waited <= RETRY_BUDGET, "{waited:?}");
        assert!(
            waited + BACKOFF_MAX + BACKOFF_MAX / 4 > RETRY_BUDGET,
            "{waited:?}"
        );
        let tries = tries.load(Ordering::Relaxed);
        assert!((15..=25).contains(&tries), "{tries} attempts");
        assert_eq!(err.attempts, tries);
        assert!(err.to_string().contains(&format!("after {tries} attempts")));
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_bounds_the_retries_too() {
        let timeout = Duration::from_secs(3);
        let pool = pool_with_timeout(2, timeout);
        let start = tokio::time::Instant::now();
        let left_per_attempt = std::sync::Mutex::new(Vec::new());
        let err = pool
            .call(|_, left| {
                left_per_attempt.lock().unwrap().push(left);
                async { Err::<(), _>(Status::unavailable("connection refused")) }
            })
            .await
            .unwrap_err();
        assert!(start.elapsed() < timeout, "{:?}", start.elapsed());
        assert_eq!(err.status.code(), Code::Unavailable);
        let lefts = left_per_attempt.into_inner().unwrap();
        assert!(lefts.len() >= 3, "{lefts:?}");
        assert_eq!(lefts[0], timeout);
        // Each attempt's deadline is what is left of the call's.
        assert!(lefts.windows(2).all(|w| w[1] < w[0]), "{lefts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_gets_only_the_time_left() {
        let pool = pool_with_timeout(2, Duration::from_secs(3));
        let tries = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let err = pool
            .call(|_, _| {
                let n = tries.fetch_add(1, Ordering::Relaxed);
                async move {
                    if n == 0 {
                        Err(Status::unavailable("connection refused"))
                    } else {
                        // Never answers: only the deadline ends it.
                        std::future::pending::<Result<(), Status>>().await
                    }
                }
            })
            .await
            .unwrap_err();
        assert_eq!(err.status.code(), Code::DeadlineExceeded);
        let took = start.elapsed();
        assert!(took >= Duration::from_secs(3), "{took:?}");
        assert!(took < Duration::from_millis(3100), "{took:?}");
    }

    #[tokio::test]
    async fn unreachable_endpoints_are_fatal_only_when_all_are() {
        // Port 1 on localhost: connection refused at once.
        let pool = pool(1);
        let err = pool.require_reachable().await.unwrap_err();
        assert!(
            err.to_string().contains("no endpoint is reachable"),
            "{err}"
        );
    }
}
