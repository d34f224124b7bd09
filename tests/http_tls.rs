//! The HTTP/JSON API over TLS and mutual TLS, from the same certificate
//! flags as gRPC, with certificates made in the test.

mod common;

use std::sync::Arc;

use common::{
    tls::{pki, Pki},
    Server,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{
    rustls::{
        self,
        pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName},
    },
    TlsConnector,
};

const ARTICLE: &str = include_str!("data/economy_ar.txt");

/// One HTTPS exchange (`Connection: close`): the status code, or the error
/// that ended the handshake or the read.
async fn https(
    addr: &str,
    pki: &Pki,
    identity: bool,
    head: &str,
    body: &[u8],
) -> Result<(u16, String), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(pki.ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if identity {
        let certs = CertificateDer::pem_slice_iter(pki.client_cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(pki.client_key.as_bytes()).unwrap();
        builder.with_client_auth_cert(certs, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!(
        "{head}\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(body).await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))?;
    Ok((status, text))
}

#[tokio::test]
async fn the_http_api_speaks_mutual_tls_like_grpc() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write_to(dir.path());
    let server = Server::start(&files.server_args(true));
    let addr = server.http.clone().expect("the HTTP API is on");

    // With the client certificate: wait for SERVING, then analyze.
    loop {
        let (status, _) = https(&addr, &pki, true, "GET /readyz HTTP/1.1", b"")
            .await
            .expect("HTTPS with a client certificate");
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let body = serde_json::to_vec(&serde_json::json!({"text": ARTICLE, "tasks": ["TASK_SUMMARY"]}))
        .unwrap();
    let (status, text) = https(
        &addr,
        &pki,
        true,
        "POST /v1/analyze HTTP/1.1\r\nContent-Type: application/json",
        &body,
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"summary\""), "{text}");

    // Without one, no answer at all.
    let refused = https(&addr, &pki, false, "GET /healthz HTTP/1.1", b"").await;
    assert!(refused.is_err(), "{refused:?}");

    // Plain HTTP gets no HTTP answer either.
    let plain = common::http_try(&addr, "GET /healthz HTTP/1.1").await;
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain:?}");
}
