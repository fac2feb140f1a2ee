//! A provider whose connection or TLS handshake stalls sent nothing: the call is unreachable,
//! never an unknown outcome, however the two timeouts are configured.

use std::time::Duration;

use provider_http::{CallKind, ClientSettings, ProviderRequest, ProviderRunner};
use tokio::net::TcpListener;

use crate::transient_code;

/// A TCP listener that accepts every connection and never writes a byte, holding the sockets
/// open: a TLS client waits for the server's hello until a timer gives up.
async fn silent_listener() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    address
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_unreachable_even_when_the_connect_timeout_is_not_below_the_total() {
    let address = silent_listener().await;
    // As shipped: `connect_timeout_ms` (3000) above the adapter's `timeout_ms`.
    let settings = ClientSettings {
        connect_timeout: Duration::from_millis(3_000),
        ..ClientSettings::with_timeout_ms(1_000)
    };
    let runner = ProviderRunner::new("test_bank", &format!("https://{address}"), &settings).expect("a valid runner");
    for kind in [CallKind::Submit, CallKind::StatusQuery] {
        let result = runner
            .send(ProviderRequest::post_json(kind, "/v1/transfers", b"{}".to_vec()))
            .await;
        assert_eq!(
            transient_code(&result),
            Some("provider_unreachable"),
            "{kind:?}: {result:?}"
        );
    }
}
