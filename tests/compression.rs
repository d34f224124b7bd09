//! gzip on gRPC: accepted on requests, used for answers when offered.

mod common;

use common::{request, shared_server};
use tonic::codec::CompressionEncoding;

const ECONOMY: &str = include_str!("data/economy_ar.txt");

#[tokio::test]
async fn gzip_is_accepted_and_offered() {
    let server = shared_server().await;
    let plain = server
        .client()
        .await
        .analyze(request("plain", ECONOMY))
        .await
        .expect("uncompressed")
        .into_inner();
    let mut gzip = server
        .client()
        .await
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let resp = gzip
        .analyze(request("plain", ECONOMY))
        .await
        .expect("a gzip request is accepted");
    assert_eq!(
        resp.metadata().get("grpc-encoding").map(|v| v.as_bytes()),
        Some(&b"gzip"[..]),
        "the answer is gzip when the client offers it"
    );
    assert_eq!(resp.into_inner(), plain);
}
