//! Certificates made in the test (a CA, a server for localhost, a client)
//! and TLS channels to a [`Server`] started with them: for the server's
//! tests and the client's (client/tests) alike.

use std::{path::Path, time::Duration};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};

use super::Server;

/// A CA, a server certificate for localhost and a client certificate, as PEM.
pub struct Pki {
    pub ca: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
}

pub fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "khulasa test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf = |name: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages.push(usage);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = leaf("khulasa-client", ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca: ca.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

/// The PEM files of a [`Pki`] in `dir`, as paths for the command lines.
pub struct PkiFiles {
    pub server_cert: String,
    pub server_key: String,
    pub ca: String,
    pub client_cert: String,
    pub client_key: String,
}

impl Pki {
    pub fn write_to(&self, dir: &Path) -> PkiFiles {
        PkiFiles {
            server_cert: write(dir, "server.pem", &self.server_cert),
            server_key: write(dir, "server.key", &self.server_key),
            ca: write(dir, "ca.pem", &self.ca),
            client_cert: write(dir, "client.pem", &self.client_cert),
            client_key: write(dir, "client.key", &self.client_key),
        }
    }
}

impl PkiFiles {
    /// The server's TLS flags; with `mutual`, client certificates from the
    /// CA are required.
    pub fn server_args(&self, mutual: bool) -> Vec<&str> {
        let mut args = vec![
            "--tls-cert",
            &self.server_cert,
            "--tls-key",
            &self.server_key,
        ];
        if mutual {
            args.extend(["--tls-client-ca", self.ca.as_str()]);
        }
        args
    }
}

pub fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}

pub fn port(server: &Server) -> &str {
    server.addr.rsplit(':').next().unwrap()
}

pub async fn tls_channel(
    server: &Server,
    pki: &Pki,
    identity: bool,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");
    if identity {
        tls = tls.identity(Identity::from_pem(&pki.client_cert, &pki.client_key));
    }
    Channel::from_shared(format!("https://localhost:{}", port(server)))
        .unwrap()
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
}

/// Health over TLS until SERVING (the shared helper speaks plaintext).
pub async fn wait_serving_tls(server: &Server, pki: &Pki, identity: bool) {
    for _ in 0..600 {
        if let Ok(channel) = tls_channel(server, pki, identity).await {
            if let Ok(resp) = HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
            {
                if resp.into_inner().status == 1 {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server never became SERVING over TLS: {:?}", server.log());
}
