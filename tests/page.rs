//! The page at `GET /`: self-contained, and working in a real browser
//! (Debian's headless Chromium through playwright-core, both installed by
//! `make test`): the example article is submitted and the rendered DOM checked.

mod common;

use std::process::Command;

use common::{http, repo_root, Server};

#[tokio::test]
async fn the_page_is_self_contained() {
    let server = Server::start(&[]);
    let addr = server.http.clone().expect("the HTTP API is on");
    let resp = http(&addr, "GET", "/", &[], b"").await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(resp.body).unwrap();
    assert!(html.contains("v1/analyze"));
    for external in ["http://", "https://", "//cdn", "<link", "src="] {
        assert!(
            !html.contains(external),
            "the page loads nothing else: {external}"
        );
    }
}

#[tokio::test]
async fn the_page_analyzes_the_example_article_in_chromium() {
    let browser_dir = repo_root().join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "Chromium or playwright-core is missing: run `make test` (it installs them)"
    );
    let server = Server::start_serving(&[]).await;
    let addr = server.http.clone().expect("the HTTP API is on");
    let screenshot = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("page.png");
    let _ = std::fs::remove_file(&screenshot);
    let out = Command::new("node")
        .current_dir(&browser_dir)
        .arg("page_test.mjs")
        .arg(format!("http://{addr}/"))
        .arg(repo_root().join("examples/article_ar.txt"))
        .arg(&screenshot)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "browser check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(screenshot.exists(), "a screenshot was saved");
    println!("screenshot: {}", screenshot.display());
}
