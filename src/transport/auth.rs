//! Optional bearer-token check for deployments without a mesh to
//! authenticate callers. Only the Summarizer service is guarded: health and
//! reflection stay open so probes and tooling work without the secret.

use std::{path::Path, sync::Arc, time::Instant};

use anyhow::Context;
use sha2::{Digest, Sha256};
use tonic::{service::Interceptor, Code, Request, Status};

use super::metrics;

/// The expected token, kept only as its SHA-256 so it never appears in a
/// `Debug` print and comparisons don't leak its contents through timing.
#[derive(Clone)]
pub struct BearerAuth {
    expected: Option<Arc<[u8; 32]>>,
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth")
            .field("enabled", &self.expected.is_some())
            .finish()
    }
}

impl BearerAuth {
    /// Everyone is let in.
    pub fn disabled() -> Self {
        BearerAuth { expected: None }
    }

    /// Expects the token of the file at `path` ([`read_token_file`]).
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let token = read_token_file(path)?;
        Ok(BearerAuth {
            expected: Some(Arc::new(digest(token.as_bytes()))),
        })
    }

    pub fn enabled(&self) -> bool {
        self.expected.is_some()
    }

    fn check(&self, authorization: Option<&[u8]>) -> Result<(), Status> {
        let Some(expected) = &self.expected else {
            return Ok(());
        };
        let given = authorization.and_then(|v| strip_bearer(v)).ok_or_else(|| {
            Status::unauthenticated("missing bearer token: send `authorization: Bearer <token>`")
        })?;
        if digest(given) == **expected {
            Ok(())
        } else {
            Err(Status::unauthenticated("invalid bearer token"))
        }
    }
}

impl Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let started = Instant::now();
        let header = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes());
        match self.check(header) {
            Ok(()) => Ok(request),
            Err(status) => {
                let method = request
                    .extensions()
                    .get::<tonic::GrpcMethod>()
                    .map_or("unknown", |m| m.method());
                tracing::info!(method, code = "UNAUTHENTICATED", error = %status.message(), "rejected");
                metrics::record_rejected(method, Code::Unauthenticated, started.elapsed());
                Err(status)
            }
        }
    }
}

/// The bearer token in the file at `path`, for the server and the client
/// alike: surrounding whitespace, such as the newline of a mounted secret, is
/// not part of it, and an empty file is an error.
pub fn read_token_file(path: &Path) -> anyhow::Result<String> {
    let raw = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the auth token file {}", path.display()))?;
    let token = raw.trim();
    anyhow::ensure!(
        !token.is_empty(),
        "the auth token file {} is empty",
        path.display()
    );
    Ok(token.to_string())
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The token of an `authorization: Bearer <token>` header; the scheme is
/// case-insensitive (RFC 7235).
fn strip_bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = value.split_at_checked(7)?;
    (scheme.eq_ignore_ascii_case(b"bearer ") && !token.is_empty()).then(|| token.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(token: &str) -> BearerAuth {
        BearerAuth {
            expected: Some(Arc::new(digest(token.as_bytes()))),
        }
    }

    #[test]
    fn accepts_the_right_token_in_any_scheme_case() {
        assert!(auth("s3cret").check(Some(b"Bearer s3cret")).is_ok());
        assert!(auth("s3cret").check(Some(b"bearer s3cret")).is_ok());
    }

    #[test]
    fn rejects_missing_wrong_and_malformed_tokens() {
        let a = auth("s3cret");
        for header in [
            None,
            Some(&b"Bearer wrong"[..]),
            Some(b"Basic s3cret"),
            Some(b"Bearer "),
            Some(b"s3cret"),
        ] {
            let err = a.check(header).unwrap_err();
            assert_eq!(err.code(), Code::Unauthenticated);
            assert!(!err.message().contains("s3cret"));
        }
    }

    #[test]
    fn disabled_lets_everyone_in() {
        assert!(BearerAuth::disabled().check(None).is_ok());
    }

    #[test]
    fn debug_never_shows_the_token() {
        assert!(!format!("{:?}", auth("s3cret")).contains("s3cret"));
    }
}
