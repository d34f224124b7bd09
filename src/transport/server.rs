//! Server lifecycle: listen at once, load and warm the models in the
//! background (health says NOT_SERVING meanwhile), flip to SERVING, and on
//! SIGTERM/SIGINT flip back, stop accepting and drain in-flight requests.

use std::{
    path::Path,
    sync::{Arc, OnceLock},
    time::Instant,
};

use anyhow::Context;
use tokio::net::TcpListener;
use tonic::{
    codec::CompressionEncoding,
    service::{interceptor::InterceptedService, Interceptor},
    transport::{server::TcpIncoming, Certificate, Identity, ServerTlsConfig},
};
use tonic_health::{server::HealthReporter, ServingStatus};

use super::{
    admission,
    auth::BearerAuth,
    http::{self, Readiness},
    http_tls, metrics,
    service::Settings,
    signals::ShutdownSignals,
    ServerArgs, SummarizerService,
};
use crate::{
    pipeline::{load_analyzer, Analyzer},
    proto::{summarizer_server::SummarizerServer, FILE_DESCRIPTOR_SET},
};

const SERVICE_NAME: &str = "khulasa.v1.Summarizer";

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut signals = ShutdownSignals::listen().context("cannot listen for SIGTERM/SIGINT")?;
    if let Some(addr) = args.metrics_listen {
        let bound = metrics::serve(addr).await?;
        tracing::info!(metrics = %format_args!("http://{bound}/metrics"), "metrics endpoint ready");
    }
    let auth = match &args.auth_token_file {
        Some(path) => BearerAuth::from_file(path)?,
        None => BearerAuth::disabled(),
    };
    let tls = tls_config(&args)?;
    let (health, health_service) = tonic_health::server::health_reporter();
    let ready = Readiness::default();
    set_health(&health, &ready, ServingStatus::NotServing).await;

    let pipeline = args.pipeline();
    let settings = Settings {
        limits: pipeline.limits,
        max_concurrent: pipeline.max_concurrent,
        max_queue: args.max_queue,
        max_queue_chars: args.max_queue_chars,
        max_message_bytes: args.max_message_bytes,
        stream_window: args.stream_window,
    };
    let analyzer: Arc<OnceLock<Arc<Analyzer>>> = Arc::new(OnceLock::new());
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let service = SummarizerService::new(Arc::clone(&analyzer), settings, shutdown_rx);
    // Times one analysis once the models are loaded (admission's first speed).
    let calibration = service.clone();
    let auth_enabled = auth.enabled();
    let front_door = FrontDoor(auth);
    let http_app = http::router(
        service.clone(),
        front_door.clone(),
        ready.clone(),
        args.max_message_bytes,
    );
    let summarizer = InterceptedService::new(
        SummarizerServer::new(service)
            // gzip accepted, and used for answers when the client offers it.
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(args.max_message_bytes)
            .max_encoding_message_size(args.max_message_bytes.saturating_mul(4)),
        front_door,
    );

    let reflection_v1 = reflection().build_v1().context("building reflection v1")?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .context("building reflection v1alpha")?;

    // The HTTP API first: its "HTTP API listening" line comes before gRPC's.
    let (http_stop_tx, http_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let http_server = match args.http_listen.0 {
        Some(http_addr) => {
            let listener = http::bind(http_addr).await?;
            let bound = listener.local_addr()?;
            let stop = async {
                let _ = http_stop_rx.await;
            };
            // TLS from the same files as gRPC's: never plaintext beside a
            // TLS-only gRPC port.
            let serving = match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => {
                    let acceptor = http_tls::acceptor(cert, key, args.tls_client_ca.as_deref())?;
                    let listener = http_tls::TlsListener::new(listener, acceptor)?;
                    tokio::spawn(http::serve(listener, http_app, stop))
                }
                _ => tokio::spawn(http::serve(listener, http_app, stop)),
            };
            tracing::info!(http_addr = %bound, tls = tls.is_some(), auth = auth_enabled, "HTTP API listening");
            Some(serving)
        }
        None => None,
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, tls = tls.is_some(), auth = auth_enabled, "listening");

    let (load_failed_tx, load_failed) = tokio::sync::oneshot::channel::<anyhow::Error>();
    {
        let health = health.clone();
        let readiness = ready.clone();
        tokio::spawn(async move {
            let loaded = tokio::task::spawn_blocking(move || {
                let analyzer = load_analyzer(&pipeline)?;
                calibration.calibrate(&analyzer);
                Ok::<_, anyhow::Error>(analyzer)
            })
            .await;
            match loaded {
                Ok(Ok(ready)) => {
                    let _ = analyzer.set(Arc::new(ready));
                    set_health(&health, &readiness, ServingStatus::Serving).await;
                    metrics::record_model_load(started.elapsed());
                    tracing::info!(
                        seconds = started.elapsed().as_secs_f64(),
                        "models loaded and warmed; SERVING"
                    );
                }
                Ok(Err(e)) => {
                    let _ = load_failed_tx.send(e);
                }
                Err(e) => {
                    let _ = load_failed_tx.send(anyhow::anyhow!("model loading panicked: {e}"));
                }
            }
        });
    }

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).context("configuring TLS")?;
    }
    let server = builder
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(summarizer)
        .serve_with_incoming_shutdown(incoming(listener), async {
            let _ = stop_rx.await;
        });
    tokio::pin!(server);

    tokio::select! {
        result = &mut server => return result.context("server failed"),
        e = async {
            match load_failed.await {
                Ok(e) => e,
                // The sender is dropped once loading succeeded.
                Err(_) => std::future::pending().await,
            }
        } => return Err(e.context("cannot load models")),
        signal = signals.next() => {
            tracing::info!(signal, "shutting down: NOT_SERVING, draining in-flight requests");
        }
    }

    // Draining first, then NOT_SERVING: whoever sees NOT_SERVING finds new
    // calls already refused.
    let _ = shutdown_tx.send(true);
    set_health(&health, &ready, ServingStatus::NotServing).await;
    let _ = stop_tx.send(());
    let _ = http_stop_tx.send(());
    let drained = async {
        let grpc = (&mut server).await;
        if let Some(http_server) = http_server {
            match http_server.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server failed while draining"),
                Err(e) => tracing::warn!(error = %e, "HTTP server task failed"),
                Ok(Ok(())) => {}
            }
        }
        grpc
    };
    tokio::select! {
        result = tokio::time::timeout(args.drain_deadline(), drained) => match result {
            Ok(result) => result.context("server failed while draining")?,
            Err(_) => tracing::warn!(
                seconds = args.drain_seconds,
                "drain deadline passed; exiting with requests in flight"
            ),
        },
        signal = signals.next() => {
            tracing::warn!(signal, "second signal: exiting without waiting for in-flight requests");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Accepted connections with Nagle's algorithm off: a response's last frame
/// would otherwise wait for the client's delayed ACK (tens of ms per call).
/// HTTP/2 keepalive probes at the TCP level find peers that vanished.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(std::time::Duration::from_secs(60)))
}

/// TLS when a certificate is configured; mutual TLS when a client CA is too.
fn tls_config(args: &ServerArgs) -> anyhow::Result<Option<ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let read = |path: &Path, what: &str| {
        std::fs::read(path).with_context(|| format!("cannot read the TLS {what} {}", display(path)))
    };
    let mut config = ServerTlsConfig::new().identity(Identity::from_pem(
        read(cert, "certificate")?,
        read(key, "key")?,
    ));
    if let Some(ca) = &args.tls_client_ca {
        config = config.client_ca_root(Certificate::from_pem(read(ca, "client CA")?));
    }
    Ok(Some(config))
}

fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Runs on the headers of every Summarizer call, gRPC and HTTP alike, before
/// the message is read: stamps the arrival (deadlines count from it), then
/// checks the bearer token.
#[derive(Clone)]
pub struct FrontDoor(BearerAuth);

impl Interceptor for FrontDoor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .extensions_mut()
            .insert(admission::Arrival(tokio::time::Instant::now()));
        self.0.call(request)
    }
}

async fn set_health(health: &HealthReporter, ready: &Readiness, status: ServingStatus) {
    ready.set(status == ServingStatus::Serving);
    health.set_service_status("", status).await;
    health.set_service_status(SERVICE_NAME, status).await;
}
