//! `publish` (the payout list's publisher) when the broker connection is lost half-way: through
//! a TCP proxy that cuts the connection once the publisher has sent a number of bytes.

use std::time::Duration;

use gateway::publish::{publish_orders, PayoutRow};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{test_settings, Db, TestStack};

/// Forwards one connection to the broker and cuts both ways once the client has sent `budget`
/// bytes. Returns the broker URL with the proxy's address in it.
async fn cutting_proxy(broker_url: &SecretString, budget: usize) -> SecretString {
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
        let back = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
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
        // Both halves dropped: the broker and the publisher each see the connection end.
        back.abort();
    });
    SecretString::from(uri.to_string())
}

crate::bounded_test! {
    /// The connection is lost half-way through a list: `publish` fails naming the order it was
    /// at, and says how many were confirmed before it. (Before, a lost connection gave the
    /// broker client's error alone — "IO error: …" — though the README says a failure half-way
    /// names the order.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_lost_half_way_names_the_order_it_was_at() {
        let stack = TestStack::start_with(Db::Sqlite, test_settings(), false).await;
        let rows: Vec<PayoutRow> = (0..2_000)
            .map(|n| PayoutRow {
                order_id: format!("CUT-{}-{n:05}", stack.run_id),
                batch_id: format!("CUT-{}", stack.run_id),
                memo: "x".repeat(200),
                ..PayoutRow::default()
            })
            .collect();
        let mut amqp = stack.settings.amqp.clone();
        // Past the handshake and the topology, into the first windows of orders.
        amqp.url = cutting_proxy(&stack.settings.amqp.url, 64 * 1024).await;
        let failed = tokio::time::timeout(Duration::from_secs(60), publish_orders(&amqp, &rows, false))
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
