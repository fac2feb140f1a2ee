//! A gateway upgraded under payments it already claimed loses none of them: a payment claimed
//! while the order still lived in the `payments` row (before the migration `payment_orders`)
//! is leased with its order, submitted with the same request, and dead-lettered with the
//! bytes and properties it arrived with, after the upgrade.

use std::path::{Path, PathBuf};

use gateway::payment::PaymentState;
use gateway::store::{Change, OutboxKind, Store, StoredProperties};
use secrecy::ExposeSecret;
use sqlx::Connection;

use crate::support::{bank_order, drop_database, fresh_database, test_settings, Db};

/// The first migration of the new layout; the database is built with everything before it.
const PAYMENT_ORDERS: i64 = 20261207000001;

crate::on_both_databases!(
    current_thread:
    a_payment_claimed_before_the_orders_moved_keeps_its_order,
);

async fn a_payment_claimed_before_the_orders_moved_keeps_its_order(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let mut settings = test_settings();
    settings.database.url = fresh_database(db, &run_id).await;
    let url = settings.database.url.expose_secret().to_string();
    let raw_message = br#"{"as":"it arrived"}"#.to_vec();
    let properties = StoredProperties {
        message_id: Some("upstream-message-1".to_string()),
        headers: [("x-source".to_string(), "province".to_string())].into(),
        ..StoredProperties::default()
    };

    // The database as the previous release left it, with one payment claimed by it.
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&connect_url(db, &url))
        .await
        .expect("the database opens");
    let earlier = earlier_migrations(db, &run_id);
    sqlx::migrate::Migrator::new(earlier.as_path())
        .await
        .expect("the earlier migrations load")
        .run(&mut connection)
        .await
        .expect("the earlier migrations run");
    let order = gateway::order::parse_order(
        &serde_json::to_vec(&bank_order(750_000)).expect("json"),
        &settings.limits,
    )
    .expect("a valid order");
    let order_json = serde_json::to_string(&order).expect("the order serialises");
    let payment_id = gateway::payment::payment_id_for(order.idempotency_key.as_str()).to_string();
    let now = chrono::Utc::now().timestamp_millis();
    sqlx::query(
        "INSERT INTO payments (payment_id, idempotency_key, order_id, fingerprint, channel, provider, amount, \
         batch_id, commune_code, order_json, raw_message, raw_properties, state, created_at, updated_at, \
         next_attempt_at, seq) VALUES ($1, $2, $3, $4, 'bank_transfer', 'bank_transfer', $5, $6, $7, $8, $9, $10, \
         'accepted', $11, $12, $13, 1)",
    )
    .bind(payment_id.as_str())
    .bind(order.idempotency_key.as_str())
    .bind(order.order_id.as_str())
    .bind(order.fingerprint())
    .bind(order.amount.as_i64())
    .bind(order.batch_id.as_str())
    .bind(order.beneficiary.commune_code.as_str())
    .bind(order_json.as_str())
    .bind(raw_message.as_slice())
    .bind(properties.to_json())
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut connection)
    .await
    .expect("a payment of the previous layout is written");
    connection.close().await.expect("the connection closes");

    // The upgrade: the store runs the migrations that are left.
    let store = Store::connect(&settings.database).await.expect("the store upgrades");
    let leased = store
        .lease_due("bank_transfer", 10, 60_000)
        .await
        .expect("the lease runs");
    assert_eq!(leased.len(), 1, "the payment is still due: {leased:?}");
    let record = &leased[0];
    assert_eq!(record.payment_id, payment_id);
    let request = record.payout_request().expect("the stored order is read back");
    assert_eq!(request.order_id, order.order_id.as_str());
    assert_eq!(request.amount, order.amount);
    let read_back = serde_json::to_string(&record.order().expect("the stored order parses")).expect("json");
    assert_eq!(read_back, order_json, "the order as it was claimed");

    let failed = store
        .apply(
            record,
            Change {
                dead_letter: Some("provider_rejected"),
                ..Change::to(PaymentState::Failed, "the provider refused the account")
            },
        )
        .await
        .expect("the change is written")
        .expect("nothing else moved the payment");
    assert_eq!(failed.state, PaymentState::Failed);
    let outbox = store.lease_unpublished(100, 60_000).await.expect("the outbox is read");
    let dead: Vec<_> = outbox.iter().filter(|row| row.kind == OutboxKind::DeadLetter).collect();
    assert_eq!(dead.len(), 1, "one dead letter: {outbox:?}");
    assert_eq!(dead[0].body, raw_message, "the bytes as they arrived");
    assert_eq!(dead[0].properties.message_id.as_deref(), Some("upstream-message-1"));
    assert_eq!(
        dead[0].properties.headers.get("x-source").map(String::as_str),
        Some("province")
    );
    assert_eq!(
        dead[0].properties.headers.get("x-gateway-reason").map(String::as_str),
        Some("provider_rejected")
    );

    drop(store);
    let _ = std::fs::remove_dir_all(earlier);
    drop_database(db, &run_id).await;
}

/// A URL that opens (and for SQLite creates) the test's database.
fn connect_url(db: Db, url: &str) -> String {
    match db {
        Db::Sqlite => format!("{url}?mode=rwc"),
        Db::Postgres => url.to_string(),
    }
}

/// A folder with the store's migrations from before [`PAYMENT_ORDERS`].
fn earlier_migrations(db: Db, run_id: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    });
    let folder = std::env::temp_dir().join(format!("payout-gateway-migrations-{run_id}"));
    std::fs::create_dir_all(&folder).expect("a temporary folder");
    for entry in std::fs::read_dir(&source).expect("the migrations folder") {
        let path = entry.expect("a migration").path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
            .to_string();
        let version: i64 = name.split('_').next().and_then(|v| v.parse().ok()).unwrap_or(i64::MAX);
        if version < PAYMENT_ORDERS {
            std::fs::copy(&path, folder.join(&name)).expect("the migration is copied");
        }
    }
    folder
}
