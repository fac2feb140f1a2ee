//! A throwaway PKI made in the test with `rcgen`: a CA, the bank's server certificate (for
//! 127.0.0.1) and the gateway's client certificate, written as PEM files like ops would.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA and the two leaf certificates, as DER for the server and as PEM files for the
/// adapter's config.
pub struct TestPki {
    /// Holds the PEM files; removed when the test ends.
    _dir: tempfile::TempDir,
    pub ca: CertificateDer<'static>,
    pub server_chain: Vec<CertificateDer<'static>>,
    pub server_key: PrivateKeyDer<'static>,
    pub ca_path: PathBuf,
    pub client_cert_path: PathBuf,
    pub client_key_path: PathBuf,
}

fn leaf(
    names: &[&str],
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) -> (Certificate, KeyPair) {
    let key = KeyPair::generate().expect("a key pair");
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("valid names");
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let certificate = params.signed_by(&key, issuer).expect("a signed certificate");
    (certificate, key)
}

/// A fresh CA with a server certificate for `127.0.0.1` and a client certificate.
pub fn test_pki() -> TestPki {
    let ca_key = KeyPair::generate().expect("a key pair");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("no names");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Payout gateway test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca_params.self_signed(&ca_key).expect("a self-signed CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let (server, server_key) = leaf(
        &["127.0.0.1"],
        "bank.test",
        ExtendedKeyUsagePurpose::ServerAuth,
        &issuer,
    );
    let (client, client_key) = leaf(&[], "payout-gateway", ExtendedKeyUsagePurpose::ClientAuth, &issuer);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let write = |name: &str, pem: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).expect("a writable temporary directory");
        path
    };
    TestPki {
        ca_path: write("ca.pem", ca.pem()),
        client_cert_path: write("gateway.crt", client.pem()),
        client_key_path: write("gateway.key", client_key.serialize_pem()),
        ca: ca.der().clone(),
        server_chain: vec![server.der().clone()],
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        _dir: dir,
    }
}
