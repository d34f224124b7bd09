//! TLS settings and the bearer token from the command line, read once
//! before any connection is made so a bad file fails the command at once.

use std::path::Path;

use anyhow::{Context, Result};
use tonic::{
    metadata::AsciiMetadataValue,
    transport::{Certificate, ClientTlsConfig, Identity},
};

use super::{endpoints::ConnectOptions, Cli};
use khulasa::transport::read_token_file;

/// The connection options the flags ask for.
pub fn connect_options(cli: &Cli) -> Result<ConnectOptions> {
    let tls = match &cli.tls_ca {
        Some(ca) => {
            let mut tls =
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca, "CA")?));
            if let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) {
                tls = tls.identity(Identity::from_pem(
                    read(cert, "client certificate")?,
                    read(key, "client key")?,
                ));
            }
            if let Some(domain) = &cli.tls_domain {
                tls = tls.domain_name(domain.clone());
            }
            Some(tls)
        }
        None => None,
    };
    let authorization = cli.token_file.as_deref().map(bearer).transpose()?;
    Ok(ConnectOptions {
        timeout: cli.timeout,
        tls,
        authorization,
    })
}

/// `Bearer <token>` from a token file, marked sensitive.
fn bearer(path: &Path) -> Result<AsciiMetadataValue> {
    let token = read_token_file(path)?;
    let mut value: AsciiMetadataValue = format!("Bearer {token}")
        .parse()
        .with_context(|| format!("the token in {} is not printable ASCII", path.display()))?;
    value.set_sensitive(true);
    Ok(value)
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the TLS {what} {}", path.display()))
}
