//! Certificates made in the test: a CA, a server certificate for localhost
//! and a client certificate, and the server flags that use them.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

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

/// Writes `contents` to `dir/name`; the path, for a command line.
pub fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}
