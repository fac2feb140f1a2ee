//! `publish` (the payout list's publisher) when the broker connection is lost half-way, or the
//! broker stops reading: through a TCP proxy that cuts the connection, or stops forwarding in
//! both directions, once the publisher has sent a number of bytes.

use std::time::Duration;

use gateway::publish::{publish_orders, PayoutRow};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{test_settings, Db, TestStack};

/// What the proxy does once the client has sent its budget of bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AtBudget {
    /// Closes both ways: a lost connection.
    Cut,
    /// Keeps the connection open and forwards nothing more either way: a broker in a memory
    /// or disk alarm, which stops reading from publishers and confirms nothing.
    Stall,
}

/// Forwards one connection to the broker until the client has sent `budget` bytes, then does
/// what `at_budget` says. Returns the broker URL with the proxy's address in it.
async fn cutting_proxy(broker_url: &SecretString, budget: usize, at_budget: AtBudget) -> SecretString {
    let mut uri: lapin::uri::AMQPUri = broker_url.expose_secret().parse().expect("an AMQP URL");
    let broker = format!("{}:{}", uri.authority.host, uri.authority.port);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a local port");
    uri.authority.host = "127.0.0.1".to_string();
    uri.authority.port = listener.local_addr().expect("its address").port();
    tokio::spawn(async move {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let Ok(server) = TcpStream::connect(&broker).await else {
            return;
        };
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let over_budget = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let back = tokio::spawn({
            let over_budget = over_budget.clone();
            async move {
                let mut buffer = vec![0u8; 4096];
                while let Ok(read) = server_read.read(&mut buffer).await {
                    if read == 0 || over_budget.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    if client_write.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                }
                (server_read, client_write)
            }
        });
        let mut sent = 0;
        let mut buffer = vec![0u8; 4096];
        while sent < budget {
            let Ok(read) = client_read.read(&mut buffer).await else {
                break;
            };
            if read == 0 {
                break;
            }
            let take = read.min(budget - sent);
            if server_write.write_all(&buffer[..take]).await.is_err() {
                break;
            }
            sent += take;
        }
        over_budget.store(true, std::sync::atomic::Ordering::SeqCst);
        match at_budget {
            // Both halves dropped: the broker and the publisher each see the connection end.
            AtBudget::Cut => back.abort(),
            AtBudget::Stall => {
                // Every half kept open and read by no one (the way back stops at the broker's
                // next bytes), until the test ends.
                let _kept = (client_read, server_write, back.await);
                std::future::pending::<()>().await;
            }
        }
    });
    SecretString::from(uri.to_string())
}

/// 2,000 payout lines (each order over 200 bytes, so that the list runs well past a proxy's
/// budget), order ids `<prefix>-<run id>-00000` on.
fn a_long_list(prefix: &str, run_id: &str) -> Vec<PayoutRow> {
    (0..2_000)
        .map(|n| PayoutRow {
            order_id: format!("{prefix}-{run_id}-{n:05}"),
            batch_id: format!("{prefix}-{run_id}"),
            memo: "x".repeat(200),
            ..PayoutRow::default()
        })
        .collect()
}

crate::bounded_test! {
    /// The connection is lost half-way through a list: `publish` fails naming the order it was
    /// at, and says how many were confirmed before it. (Before, a lost connection gave the
    /// broker client's error alone — "IO error: …" — though the README says a failure half-way
    /// names the order.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_lost_half_way_names_the_order_it_was_at() {
        let stack = TestStack::start_with(Db::Sqlite, test_settings(), false).await;
        let rows = a_long_list("CUT", &stack.run_id);
        let mut amqp = stack.settings.amqp.clone();
        // Past the handshake and the topology, into the first windows of orders.
        amqp.url = cutting_proxy(&stack.settings.amqp.url, 64 * 1024, AtBudget::Cut).await;
        let failed = tokio::time::timeout(Duration::from_secs(60), publish_orders(&amqp, &rows, false, gateway::publish::CONFIRM_WITHIN))
            .await
            .expect("publishing ends")
            .expect_err("the connection was cut");
        let text = format!("{failed:#}");
        assert!(
            text.contains(&format!("order CUT-{}-", stack.run_id)) && text.contains("were confirmed before it stopped"),
            "{text}"
        );
        stack.stop().await;
    }
}

crate::bounded_test! {
    /// The broker stops reading half-way through a list and confirms nothing (a memory or disk
    /// alarm): `publish` gives up once a window waited `confirm_within`, naming the order it was
    /// at. (Before, it waited for the broker without end: a cron run hung.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broker_that_stops_confirming_is_given_up_on_naming_the_order() {
        let stack = TestStack::start_with(Db::Sqlite, test_settings(), false).await;
        let rows = a_long_list("STALL", &stack.run_id);
        let mut amqp = stack.settings.amqp.clone();
        amqp.url = cutting_proxy(&stack.settings.amqp.url, 64 * 1024, AtBudget::Stall).await;
        let failed = tokio::time::timeout(
            Duration::from_secs(60),
            publish_orders(&amqp, &rows, false, Duration::from_secs(2)),
        )
        .await
        .expect("publishing ends")
        .expect_err("the broker stopped confirming");
        let text = format!("{failed:#}");
        assert!(
            text.contains(&format!("order STALL-{}-", stack.run_id))
                && text.contains("was not confirmed by the broker within 2 s")
                && text.contains("were confirmed before it stopped"),
            "{text}"
        );
        stack.stop().await;
    }
}
