//! TLS, mutual TLS and the bearer token, with certificates made in the test
//! (tests/common/tls.rs; the `khulasa` client's side is client/tests/security.rs).

mod common;

use common::{
    request,
    tls::{pki, tls_channel, wait_serving_tls, write},
    Server,
};
use khulasa::proto::summarizer_client::SummarizerClient;
use tonic::{transport::Channel, Code};

const ARTICLE: &str = include_str!("data/economy_ar.txt");
const TOKEN: &str = "tok-5f1e0c9a7b";

/// Whether an Analyze call succeeds over `channel` (a failed connection is
/// a failed call).
async fn analyze_succeeds(channel: Result<Channel, tonic::transport::Error>, id: &str) -> bool {
    match channel {
        Ok(channel) => SummarizerClient::new(channel)
            .analyze(request(id, ARTICLE))
            .await
            .is_ok(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn serves_over_tls_and_refuses_plaintext() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write_to(dir.path());
    let server = Server::start(&files.server_args(false));
    wait_serving_tls(&server, &pki, false).await;

    let channel = tls_channel(&server, &pki, false)
        .await
        .expect("TLS connect");
    let resp = SummarizerClient::new(channel)
        .analyze(request("tls", ARTICLE))
        .await
        .expect("analyze over TLS")
        .into_inner();
    assert!(resp.summary.is_some());

    let plaintext = Channel::from_shared(server.addr.clone())
        .unwrap()
        .connect()
        .await;
    assert!(
        !analyze_succeeds(plaintext, "plain").await,
        "a plaintext call succeeded against a TLS server"
    );
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write_to(dir.path());
    let server = Server::start(&files.server_args(true));
    wait_serving_tls(&server, &pki, true).await;

    let channel = tls_channel(&server, &pki, true)
        .await
        .expect("mTLS connect");
    SummarizerClient::new(channel)
        .analyze(request("mtls", ARTICLE))
        .await
        .expect("analyze with a client certificate");

    // Without a client certificate the handshake (or the first call) fails.
    let anonymous = tls_channel(&server, &pki, false).await;
    assert!(
        !analyze_succeeds(anonymous, "anonymous").await,
        "a call without a client certificate succeeded"
    );
}

#[tokio::test]
async fn the_bearer_token_guards_the_summarizer_but_not_health() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = write(dir.path(), "token", &format!("{TOKEN}\n"));
    let server = Server::start_serving(&["--auth-token-file", &token_file]).await;
    let mut client = server.client().await;

    let with = |auth: Option<&str>| {
        let mut req = tonic::Request::new(request("auth", ARTICLE));
        if let Some(auth) = auth {
            req.metadata_mut()
                .insert("authorization", auth.parse().unwrap());
        }
        req
    };
    for (auth, expected) in [
        (None, "missing bearer token"),
        (Some("Bearer wrong-token"), "invalid bearer token"),
        (Some(TOKEN), "missing bearer token"),
    ] {
        let err = client.analyze(with(auth)).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{auth:?}");
        assert!(
            err.message().contains(expected),
            "{auth:?}: {}",
            err.message()
        );
    }
    let bearer = format!("Bearer {TOKEN}");
    client
        .analyze(with(Some(&bearer)))
        .await
        .expect("analyze with the token");

    // Health answered without a token (wait_serving used it), and the
    // secret never reaches the log.
    assert!(server.log().iter().all(|l| !l.contains(TOKEN)));
    assert!(server.log().iter().any(|l| l.contains("UNAUTHENTICATED")));
}

#[test]
fn an_unreadable_token_file_stops_the_server_with_a_clear_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_khulasa-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--auth-token-file",
            "/nonexistent/token",
        ])
        .output()
        .expect("run server");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the auth token file /nonexistent/token"),
        "{stderr}"
    );
}
