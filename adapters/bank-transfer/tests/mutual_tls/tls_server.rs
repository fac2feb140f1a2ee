//! Serves an axum router over TLS that requires a client certificate from the test CA, as a
//! bank that mandates mutual TLS does.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::pki::TestPki;

/// A TLS 1.2/1.3 server config that refuses any client without a certificate signed by the
/// test CA (`WebPkiClientVerifier` requires one unless told otherwise).
fn server_config(pki: &TestPki) -> Arc<ServerConfig> {
    let crypto = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca.clone()).expect("the test CA");
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&crypto))
        .build()
        .expect("a client verifier");
    let config = ServerConfig::builder_with_provider(crypto)
        .with_safe_default_protocol_versions()
        .expect("default protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .expect("the server certificate and key");
    Arc::new(config)
}

/// Serves `router` on 127.0.0.1 over mutual TLS; answers its address. A connection whose
/// handshake fails is dropped before any request reaches the router.
pub async fn serve_mutual_tls(router: Router, pki: &TestPki) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    let acceptor = TlsAcceptor::from(server_config(pki));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    address
}
