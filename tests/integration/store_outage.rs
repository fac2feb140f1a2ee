//! The gateway while its PostgreSQL is gone — the database's address refusing connections and
//! the connections it had cut, as when the server stops — through a TCP proxy of the test's own
//! that the test takes away.

use std::net::SocketAddr;
use std::time::Duration;

use gateway::app::RunningGateway;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use adapter_bank_transfer::WebhookSecret;

use crate::support::{completed_bank_callback, test_settings, Db, TestStack, BANK_WEBHOOK_SECRET};

const TOKEN: &str = "ops-token-for-the-outage-test-0123456789";

/// A TCP proxy to one address, until [`Proxy::take_away`] closes its listener (new connections
/// are refused) and cuts every connection through it.
struct Proxy {
    address: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn to(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port for the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut connections = JoinSet::new();
                loop {
                    let (mut client, _) = tokio::select! {
                        () = stop.cancelled() => break,
                        accepted = listener.accept() => match accepted {
                            Ok(accepted) => accepted,
                            Err(_) => continue,
                        },
                    };
                    let upstream = upstream.clone();
                    connections.spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
                drop(listener);
                connections.shutdown().await;
            }
        });
        Self { address, stop, task }
    }

    async fn take_away(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

crate::bounded_test! {
    /// PostgreSQL gone: `/readyz` answers 503 "the store does not answer", the dashboard's
    /// figures and a callback 503 `store_unavailable`, each within the listener's request timeout (2 s here,
    /// below the 30 s the pool tries for a connection). (Before, the
    /// store's pool tried again for a connection for up to 30 s, and both were answered 408 with
    /// an empty body at the request timeout: a probe read no reason, the page "Unexpected end of
    /// JSON input".)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readyz_the_dashboard_and_callbacks_say_the_store_does_not_answer_when_postgres_is_gone() {
        let mut settings = test_settings();
        settings.dashboard.token = Some(SecretString::from(TOKEN));
        // The store's answer is awaited for three quarters of it: 1.5 s.
        settings.http.request_timeout_ms = 2_000;
        let stack = TestStack::start_with(Db::Postgres, settings, false).await;
        let mut url = reqwest::Url::parse(stack.settings.database.url.expose_secret()).expect("a database URL");
        let upstream = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port().unwrap_or(5432)
        );
        let proxy = Proxy::to(upstream).await;
        url.set_port(Some(proxy.address.port())).expect("a port");
        let mut settings = stack.settings.clone();
        settings.database.url = SecretString::from(url.to_string());
        let gateway = RunningGateway::start(settings).await.expect("the gateway starts");
        let base = format!("http://{}", gateway.http_address);
        let client = reqwest::Client::new();
        let readyz = || async {
            let answer = client.get(format!("{base}/readyz")).send().await.expect("an answer");
            (answer.status().as_u16(), answer.text().await.unwrap_or_default())
        };
        assert_eq!(readyz().await.0, 200, "ready while the store answers");

        proxy.take_away().await;
        // The gateway's parts meet their cut connections meanwhile, and the pool lets them go.
        tokio::time::sleep(Duration::from_secs(1)).await;
        for _ in 0..3 {
            assert_eq!(readyz().await, (503, "the store does not answer".to_string()));
        }
        let summary = client
            .get(format!("{base}/ops/api/summary"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("an answer");
        assert_eq!(summary.status().as_u16(), 503);
        let body: serde_json::Value = summary.json().await.expect("a JSON answer");
        assert_eq!(body["error"], "store_unavailable", "{body}");

        // A signed callback is answered 503 `store_unavailable` (the provider sends it again),
        // not a bare 408 at the request timeout.
        let now = chrono::Utc::now().timestamp();
        let callback = completed_bank_callback("pay-of-the-outage", "order-of-the-outage", 1_000_000);
        let signature = WebhookSecret::parse(BANK_WEBHOOK_SECRET)
            .expect("the sandbox's secret")
            .sign("msg_outage", now, &callback);
        let answer = client
            .post(format!("{base}/callbacks/bank_transfer"))
            .header("webhook-id", "msg_outage")
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .header("content-type", "application/json")
            .body(callback)
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status().as_u16(), 503);
        let body: serde_json::Value = answer.json().await.expect("a JSON answer");
        assert_eq!(body["code"], "store_unavailable", "{body}");

        // Its parts may wait out their own store calls; the test does not wait for them all.
        let _ = tokio::time::timeout(Duration::from_secs(20), gateway.stop()).await;
        stack.stop().await;
    }
}
