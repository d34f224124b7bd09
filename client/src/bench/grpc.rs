//! The gRPC target: plain `Analyze` calls on one HTTP/2 connection, as a
//! real client makes them, without the CLI's retries (a benchmark must see
//! every failure).

use std::time::Duration;

use anyhow::{Context, Result};
use futures::future::BoxFuture;
use khulasa::proto::{self, summarizer_client::SummarizerClient};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

use super::{corpus::Article, driver::Target};
use crate::{endpoints::SUMMARIZER_SERVICE, record::code_name};

/// Answers hold every entity of the article; allow long ones.
const MAX_DECODING_BYTES: usize = 64 << 20;

pub struct Grpc {
    client: SummarizerClient<Channel>,
    timeout: Duration,
}

impl Grpc {
    /// A lazy channel to `url` (already normalized).
    pub fn new(url: &str, timeout: Duration) -> Result<Self> {
        let channel = Endpoint::from_shared(url.to_string())
            .with_context(|| format!("invalid endpoint {url}"))?
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(Grpc {
            client: SummarizerClient::new(channel)
                .max_decoding_message_size(MAX_DECODING_BYTES)
                .max_encoding_message_size(MAX_DECODING_BYTES),
            timeout,
        })
    }
}

impl Target for Grpc {
    fn analyze(&self, article: &Article) -> BoxFuture<'static, Result<(), String>> {
        let mut client = self.client.clone();
        let mut request = tonic::Request::new(proto::AnalyzeRequest {
            id: article.id.clone(),
            text: article.text.to_string(),
            ..Default::default()
        });
        request.set_timeout(self.timeout);
        Box::pin(async move {
            client
                .analyze(request)
                .await
                .map(drop)
                .map_err(|s| code_name(s.code() as i32))
        })
    }
}

/// Whether the Summarizer service at `url` answers SERVING now.
pub async fn is_serving(url: &str) -> bool {
    let Ok(endpoint) = Endpoint::from_shared(url.to_string()) else {
        return false;
    };
    let Ok(channel) = endpoint
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .await
    else {
        return false;
    };
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: SUMMARIZER_SERVICE.to_string(),
    });
    request.set_timeout(Duration::from_secs(2));
    matches!(
        HealthClient::new(channel).check(request).await,
        Ok(r) if r.get_ref().status == ServingStatus::Serving as i32
    )
}
