//! The `khulasa` client against a server that wants mutual TLS and a bearer
//! token, with certificates made in the test.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{
    tls::{pki, port, wait_serving_tls, write},
    Server,
};

const ARTICLE: &str = include_str!("../../tests/data/economy_ar.txt");
const TOKEN: &str = "tok-5f1e0c9a7b";

/// The `khulasa` client over mutual TLS with a bearer token, as an operator
/// without a mesh would run it.
#[tokio::test]
async fn the_client_speaks_mutual_tls_with_a_token() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = pki.write_to(d);
    let token = write(d, "token", TOKEN);
    let article = write(d, "article.txt", ARTICLE);
    let server =
        Server::start(&[files.server_args(true), vec!["--auth-token-file", &token]].concat());
    wait_serving_tls(&server, &pki, true).await;

    let endpoint = format!("localhost:{}", port(&server));
    let tls = [
        "--tls-ca",
        files.ca.as_str(),
        "--tls-cert",
        files.client_cert.as_str(),
        "--tls-key",
        files.client_key.as_str(),
    ];
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_khulasa"))
            .args(["--endpoint", &endpoint, "--timeout", "120"])
            .args(tls)
            .args(extra)
            .args(["analyze", "--json", &article])
            .env_remove("KHULASA_ENDPOINT")
            .output()
            .expect("run khulasa");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };

    let (code, stdout, stderr) = run(&["--token-file", &token]);
    assert_eq!(code, Some(0), "{stderr}");
    let response: serde_json::Value = serde_json::from_str(&stdout).expect("JSON answer");
    assert!(response["summary"].is_object(), "{stdout}");

    let (code, _, stderr) = run(&[]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("UNAUTHENTICATED"), "{stderr}");
}
