//! A relay whose broker stops answering in the middle of a round — as during a memory or disk
//! alarm, when RabbitMQ stops reading from publishers and no confirm comes — still stops when
//! asked, and gives back the rows it could not get confirmed, so nothing is lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gateway::amqp::links::{BrokerLinks, CONSUMER, RELAY};
use gateway::config::DatabaseSettings;
use gateway::store::Store;
use secrecy::{ExposeSecret, SecretString};
use sqlx::AnyPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::relay::{eventually, insert_results, raw_database};
use crate::support::{test_settings, Db, TestStack};

/// A TCP relay to the broker of an AMQP URL that can be told to hold every byte in both
/// directions from then on: the connections stay open, nothing more gets through.
struct StallingProxy {
    /// The broker's URL with the proxy's address in it.
    url: SecretString,
    stalled: Arc<AtomicBool>,
}

impl StallingProxy {
    async fn start(broker_url: &SecretString) -> Self {
        let mut uri: lapin::uri::AMQPUri = broker_url.expose_secret().parse().expect("an AMQP URL");
        let broker = format!("{}:{}", uri.authority.host, uri.authority.port);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a local port");
        uri.authority.host = "127.0.0.1".to_string();
        uri.authority.port = listener.local_addr().expect("its address").port();
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(broker) = TcpStream::connect(&broker).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (broker_read, broker_write) = broker.into_split();
                tokio::spawn(forward(client_read, broker_write, flag.clone()));
                tokio::spawn(forward(broker_read, client_write, flag.clone()));
            }
        });
        Self {
            url: SecretString::from(uri.to_string()),
            stalled,
        }
    }

    /// From now on no byte goes either way.
    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either closes; once `stalled`, holds what it read.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let Ok(read) = from.read(&mut buffer).await else { return };
        if read == 0 {
            return;
        }
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// Rows the relay holds a lease on.
async fn leased(pool: &AnyPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox_waiting WHERE relay_lease_until IS NOT NULL")
        .fetch_one(pool)
        .await
        .expect("count leased rows")
}

crate::bounded_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_relay_whose_confirms_stop_coming_stops_when_asked_and_gives_its_rows_back() {
        let stack = TestStack::start_with(Db::Sqlite, test_settings(), false).await;
        let store = Store::connect(&DatabaseSettings {
            url: stack.settings.database.url.clone(),
            max_connections: 2,
            writer_thread: true,
            writers: 2,
        })
        .await
        .unwrap();
        let pool = raw_database(&stack.settings.database.url).await;
        let proxy = StallingProxy::start(&stack.settings.amqp.url).await;
        let mut amqp = stack.settings.amqp.clone();
        amqp.url = proxy.url.clone();
        let shutdown = CancellationToken::new();
        let links = BrokerLinks::new(&[RELAY]);
        let relay = tokio::spawn(gateway::amqp::relay::run(
            store.clone(),
            amqp,
            Arc::new(Notify::new()),
            links.clone(),
            shutdown.clone(),
        ));

        insert_results(&pool, &["result.bank_transfer.succeeded"], "before-the-alarm").await;
        eventually("the relay publishes through the proxy", || async {
            store.unpublished_count().await.unwrap() == 0
        })
        .await;
        assert_eq!(links.verdict(), Ok(()), "connected, and its round went out whole");

        proxy.stall();
        insert_results(&pool, &["result.bank_transfer.succeeded"; 3], "during-the-alarm").await;
        eventually("the relay takes the rows and waits for their confirms", || async {
            leased(&pool).await == 3
        })
        .await;
        // `/readyz/orders` hears of it once the confirms are late (5 s), though the relay's
        // connection is still open.
        eventually("the relay is reported as not publishing", || async {
            links
                .verdict()
                .is_err_and(|why| why.contains("has not confirmed a round of results"))
        })
        .await;

        shutdown.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(5), relay).await;
        assert!(
            stopped.is_ok(),
            "the relay stops within 5 s of being asked although no confirm comes"
        );
        assert_eq!(
            store.unpublished_count().await.unwrap(),
            3,
            "nothing unconfirmed is marked sent: the rows go out at the next start"
        );
        assert_eq!(leased(&pool).await, 0, "the relay gave its leases back");

        pool.close().await;
        drop(store);
        stack.stop().await;
    }
}

crate::bounded_test! {
    /// A broker that takes the connection and never answers (the proxy stalled from the
    /// start): the consumer and the relay, setting up, held a stop until their connection
    /// attempt gave up, 15 s on. They stop when asked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_consumer_and_a_relay_setting_up_with_a_silent_broker_stop_when_asked() {
        let stack = TestStack::start_with(Db::Sqlite, test_settings(), false).await;
        let store = Store::connect(&stack.settings.database).await.unwrap();
        let proxy = StallingProxy::start(&stack.settings.amqp.url).await;
        proxy.stall();
        let mut amqp = stack.settings.amqp.clone();
        amqp.url = proxy.url.clone();
        let shutdown = CancellationToken::new();
        let links = BrokerLinks::new(&[CONSUMER, RELAY]);
        let relay = tokio::spawn(gateway::amqp::relay::run(
            store.clone(),
            amqp.clone(),
            Arc::new(Notify::new()),
            links.clone(),
            shutdown.clone(),
        ));
        let consumer = tokio::spawn(gateway::amqp::consumer::run(
            Arc::new(stack.intake(&store)),
            amqp,
            links.clone(),
            shutdown.clone(),
        ));
        // Both are in their first connection's handshake, which gets no answer.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!relay.is_finished() && !consumer.is_finished());
        assert!(links.verdict().is_err(), "neither is connected");

        shutdown.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(3), async {
            let _ = relay.await;
            let _ = consumer.await;
        })
        .await;
        assert!(stopped.is_ok(), "both stop within 3 s of being asked");
        drop(store);
        stack.stop().await;
    }
}

crate::bounded_test! {
    /// Another gateway on the same database writes results all along and publishes each a
    /// moment later: a stopping gateway waits for what waited when it stopped, not for what
    /// the other writes meanwhile. (Before, it counted every waiting row in the database, so every rolling restart
    /// beside a busy gateway took the whole five seconds.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopping_gateway_does_not_wait_for_results_other_gateways_write_meanwhile() {
        let mut stack = TestStack::start(Db::Postgres).await;
        let pool = raw_database(&stack.settings.database.url).await;
        let writing = CancellationToken::new();
        let other_gateway = tokio::spawn({
            let (pool, writing) = (pool.clone(), writing.clone());
            async move {
                let mut held = std::collections::VecDeque::new();
                let mut written = 0;
                while !writing.is_cancelled() {
                    written += 1;
                    let ids = insert_results(&pool, &["result.bank_transfer.pending"], &format!("other-{written}")).await;
                    // Held by the other gateway's relay, which publishes each 100 ms later.
                    sqlx::query("UPDATE outbox_waiting SET relay_lease_until = $1 WHERE id = $2")
                        .bind(chrono::Utc::now().timestamp_millis() + 3_600_000)
                        .bind(ids[0])
                        .execute(&pool)
                        .await
                        .expect("leased");
                    held.push_back(ids[0]);
                    if held.len() > 5 {
                        let published = held.pop_front().expect("held rows");
                        sqlx::query("DELETE FROM outbox_waiting WHERE id = $1")
                            .bind(published)
                            .execute(&pool)
                            .await
                            .expect("published");
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let gateway = stack.gateway.take().expect("the stack runs a gateway");
        let stopping = std::time::Instant::now();
        gateway.stop().await;
        let took = stopping.elapsed();
        writing.cancel();
        let _ = other_gateway.await;
        pool.close().await;
        stack.stop().await;
        assert!(took < Duration::from_secs(4), "the stop took {took:?}");
    }
}
