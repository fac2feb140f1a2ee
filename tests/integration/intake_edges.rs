//! Intake at the edges: an order id names one payment, the store's refusals are told apart
//! from its outages, and an oversized order is never read (or stored) past the limit.

use std::time::Duration;

use gateway::config::DuplicatePaymentPolicy;
use gateway::order::{parse_order, MAX_ORDER_BYTES};
use gateway::payment::ResultStatus;
use gateway::store::{ClaimOutcome, Rejection, Store, StoreError, StoredProperties};
use gateway_adapter::Invalid;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::support::{
    bank_order, drop_database, fresh_database, store_for_one_batch, test_settings, Db, TestStack, HOLDER,
};

crate::on_both_databases!(
    an_order_id_reused_with_another_idempotency_key_is_a_conflict_and_pays_nothing,
    a_nul_character_in_an_invalid_orders_id_is_rejected_and_does_not_loop,
    an_oversized_order_is_rejected_by_its_message_id_and_kept_only_up_to_the_limit,
    the_store_types_a_refused_value_as_unstorable,
);

async fn an_order_id_reused_with_another_idempotency_key_is_a_conflict_and_pays_nothing(db: Db) {
    let mut stack = TestStack::start(db).await;
    let first = bank_order(500_000);
    let order_id = first["order_id"].as_str().unwrap().to_string();
    stack.open_bank_account(&first, HOLDER);
    stack.publish(&first).await;
    let paid = stack.final_result(&order_id).await;
    assert_eq!(paid.status, ResultStatus::Succeeded);

    // Another payment (another beneficiary and account) under the same order id.
    let mut second = bank_order(700_000);
    second["order_id"] = json!(order_id);
    second["idempotency_key"] = json!(format!("{order_id}-again"));
    stack.open_bank_account(&second, HOLDER);
    stack.publish(&second).await;
    let dead = stack.next_dead_letter().await;
    assert_eq!(
        dead.headers.get("x-gateway-reason").map(String::as_str),
        Some("conflict")
    );
    assert!(
        dead.headers["x-gateway-detail"].contains("order id already used"),
        "{:?}",
        dead.headers
    );
    assert_eq!(dead.body, serde_json::to_vec(&second).unwrap(), "the original bytes");
    stack.drain_results(Duration::from_secs(1)).await;
    let results = &stack.seen[&order_id];
    assert!(
        results.iter().all(|m| m.payment_id == paid.payment_id),
        "every result of the order id belongs to the first payment: {results:?}"
    );
    assert_eq!(results.iter().filter(|m| m.is_final).count(), 1);
    assert_eq!(stack.credits(&order_id), 1, "only the first order was paid");
    stack.stop().await;
}

async fn a_nul_character_in_an_invalid_orders_id_is_rejected_and_does_not_loop(db: Db) {
    let mut stack = TestStack::start(db).await;
    let mut broken = bank_order(500_000);
    broken["order_id"] = json!("TB-\u{0}-NUL");
    broken["amount"] = json!("500000.5");
    let message_id = format!("nul-{}", stack.run_id);
    stack
        .publish_raw(&serde_json::to_vec(&broken).unwrap(), &message_id)
        .await;
    let rejected = stack.final_result("TB-\\u{0}-NUL").await;
    assert_eq!(rejected.status, ResultStatus::Rejected);
    assert_eq!(rejected.reason_code.as_deref(), Some("invalid_order_id"));
    let dead = stack.next_dead_letter().await;
    assert_eq!(
        dead.headers.get("x-gateway-reason").map(String::as_str),
        Some("invalid")
    );

    let order = bank_order(500_000);
    stack.open_bank_account(&order, HOLDER);
    stack.publish(&order).await;
    let result = stack.final_result(order["order_id"].as_str().unwrap()).await;
    assert_eq!(result.status, ResultStatus::Succeeded);
    stack.stop().await;
}

async fn an_oversized_order_is_rejected_by_its_message_id_and_kept_only_up_to_the_limit(db: Db) {
    let mut stack = TestStack::start(db).await;
    let mut big = bank_order(500_000);
    big["memo"] = json!("x".repeat(100_000));
    let body = serde_json::to_vec(&big).unwrap();
    let message_id = format!("oversized-{}", stack.run_id);
    stack.publish_raw(&body, &message_id).await;

    let rejected = stack.final_result(&message_id).await;
    assert_eq!(rejected.status, ResultStatus::Rejected);
    assert_eq!(rejected.reason_code.as_deref(), Some("order_too_large"));
    assert!(
        !stack.seen.contains_key(big["order_id"].as_str().unwrap()),
        "the order id inside the oversized body was never read"
    );
    let dead = stack.next_dead_letter().await;
    assert_eq!(
        dead.headers.get("x-gateway-reason").map(String::as_str),
        Some("invalid")
    );
    assert_eq!(
        dead.body.len(),
        MAX_ORDER_BYTES,
        "the dead letter keeps the first 64 KiB"
    );
    assert_eq!(dead.body[..], body[..MAX_ORDER_BYTES]);
    assert_eq!(
        dead.headers.get("x-gateway-original-bytes"),
        Some(&body.len().to_string())
    );
    stack.stop().await;
}

async fn the_store_types_a_refused_value_as_unstorable(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let mut settings = test_settings();
    settings.database.url = fresh_database(db, &run_id).await;
    let store = Store::connect(&settings.database).await.unwrap();
    let invalid = Invalid::new("invalid_order_id", "order_id is not an id");
    let rejection = Rejection {
        order_id: "TB-\u{0}-NUL".to_string(),
        channel: None,
        batch_id: None,
        invalid: &invalid,
    };
    let stored = store.reject(&rejection, b"{}", &StoredProperties::default()).await;
    match db {
        // PostgreSQL refuses a NUL byte in TEXT (SQLSTATE 22021): that is the data, not an outage.
        Db::Postgres => assert!(matches!(stored, Err(StoreError::Unstorable(_))), "{stored:?}"),
        // SQLite keeps it.
        Db::Sqlite => assert!(stored.is_ok(), "{stored:?}"),
    }
    // A valid order still claims on the same store: the refusal rolled back cleanly.
    let order = parse_order(&serde_json::to_vec(&bank_order(500_000)).unwrap(), &settings.limits).unwrap();
    let claimed = store
        .claim(
            &order,
            "bank_transfer",
            b"{}",
            &StoredProperties::default(),
            DuplicatePaymentPolicy::Review,
        )
        .await;
    assert!(claimed.is_ok(), "{claimed:?}");
    drop(store);
    drop_database(db, &run_id).await;
}

crate::bounded_test! {
    /// A redelivery that lands in the same group commit as the claim of its order still gets the
    /// order's latest result again. (The claim's result is one of the rows a transaction writes
    /// only at its end; the duplicate writes them out before it looks for it.) On a current-thread
    /// runtime both claims are queued before the writer runs, so they share one batch.
    #[tokio::test]
    async fn a_redelivery_in_the_same_group_commit_as_its_claim_gets_the_result_again() {
        let run_id = gateway::demo::stack::new_run_id();
        let (settings, store) = store_for_one_batch(Db::Sqlite, &run_id).await;
        let order = parse_order(&serde_json::to_vec(&bank_order(500_000)).unwrap(), &settings.limits).unwrap();
        let properties = StoredProperties::default();
        let claim = || {
            store.claim(
                &order,
                "bank_transfer",
                b"{}",
                &properties,
                DuplicatePaymentPolicy::Review,
            )
        };
        let (first, again) = tokio::join!(claim(), claim());
        let payment_id = match first.unwrap() {
            ClaimOutcome::Claimed { payment_id, .. } => payment_id,
            other => panic!("the first delivery claims the order: {other:?}"),
        };
        assert_eq!(
            again.unwrap(),
            ClaimOutcome::Duplicate {
                payment_id: payment_id.clone()
            }
        );
        let pool = sqlx::AnyPool::connect(settings.database.url.expose_secret())
            .await
            .unwrap();
        let results: Vec<String> =
            sqlx::query_scalar("SELECT routing_key FROM outbox WHERE payment_id = $1 AND kind = 'result' ORDER BY id")
                .bind(&payment_id)
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            results,
            ["result.bank_transfer.accepted", "result.bank_transfer.accepted"]
        );
        drop(store);
        drop_database(Db::Sqlite, &run_id).await;
    }
}

/// A rejection was counted before it was written: while the store could not write it, each
/// redelivery of the invalid order counted it again.
#[test]
fn an_invalid_order_is_counted_as_rejected_once_it_is_written() {
    let counted = crate::changes_together::counts_while(async {
        let mut invalid = bank_order(500_000);
        invalid["amount"] = json!("-5");
        let body = serde_json::to_vec(&invalid).unwrap();
        let intake_on = |settings: &gateway::config::Settings, store: &Store| {
            gateway::intake::Intake::new(
                store.clone(),
                settings,
                gateway::dispatcher::ProviderWakes::default(),
                std::sync::Arc::new(tokio::sync::Notify::new()),
            )
            .unwrap()
        };

        let away = gateway::demo::stack::new_run_id();
        let (settings, store) = store_for_one_batch(Db::Sqlite, &away).await;
        // The store cannot write the rejection (its table is gone, as if the database were
        // away): the consumer would nack the order back to the queue, twice here.
        let raw = crate::relay::raw_database(&settings.database.url).await;
        sqlx::query("DROP TABLE rejected_orders").execute(&raw).await.unwrap();
        for _ in 0..2 {
            let taken = intake_on(&settings, &store)
                .take(&body, &StoredProperties::default())
                .await;
            assert!(taken.is_err(), "nothing written");
        }
        raw.close().await;
        drop(store);
        drop_database(Db::Sqlite, &away).await;

        let written = gateway::demo::stack::new_run_id();
        let (settings, store) = store_for_one_batch(Db::Sqlite, &written).await;
        intake_on(&settings, &store)
            .take(&body, &StoredProperties::default())
            .await
            .expect("the rejection is written");
        drop(store);
        drop_database(Db::Sqlite, &written).await;
    });
    assert_eq!(
        counted("gateway_orders_total"),
        Some(1),
        "one rejection written, counted once"
    );
}

crate::bounded_test! {
    /// PostgreSQL: a duplicate delivery is answered with its payment's latest result, and a change
    /// of that payment may be committing at that moment in another writer (or gateway). The
    /// duplicate waits for it and copies the result it wrote. (Before, it copied the result
    /// before it, read while the change was not yet committed, and being written after it, that
    /// older copy was the payment's newest row: a later duplicate got it again, and the prune
    /// kept it and deleted the newer one.) Here a test transaction plays the committing change,
    /// come just after the duplicate's insert found the order's key taken: it holds the payment's
    /// row and has written its next result.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_duplicate_waits_for_a_change_of_its_payment_committing_meanwhile() {
        use sqlx::Connection;
        let db = Db::Postgres;
        let run_id = gateway::demo::stack::new_run_id();
        let (settings, store) = store_for_one_batch(db, &run_id).await;
        let order = parse_order(&serde_json::to_vec(&bank_order(500_000)).unwrap(), &settings.limits).unwrap();
        let claim = {
            let (store, order) = (store.clone(), order.clone());
            move || {
                let (store, order) = (store.clone(), order.clone());
                async move {
                    store
                        .claim(&order, "bank_transfer", b"{}", &StoredProperties::default(), DuplicatePaymentPolicy::Review)
                        .await
                }
            }
        };
        let ClaimOutcome::Claimed { payment_id, .. } = claim().await.unwrap() else {
            panic!("the first delivery claims the order");
        };
        let url = settings.database.url.expose_secret().to_string();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let accepted: Vec<u8> = sqlx::query_scalar("SELECT body FROM outbox WHERE payment_id = $1 AND kind = 'result'")
            .bind(payment_id.as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
        let mut pending: serde_json::Value = serde_json::from_slice(&accepted).unwrap();
        pending["seq"] = json!(2);
        pending["status"] = json!("pending");

        let mut change = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut change).await.unwrap();
        // Its compare-and-set, as the duplicate's own insert saw it: the row held, no new version
        // yet (a new version would make that insert wait on its key; the change can come just
        // after it, which is what this plays).
        sqlx::query("SELECT payment_id FROM payments WHERE payment_id = $1 FOR UPDATE")
            .bind(payment_id.as_str())
            .fetch_one(&mut change)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO outbox (kind, payment_id, routing_key, headers, body, created_at, payment_created_at) \
             SELECT kind, payment_id, 'result.bank_transfer.pending', headers, $2, created_at, payment_created_at \
             FROM outbox WHERE payment_id = $1 AND kind = 'result'",
        )
        .bind(payment_id.as_str())
        .bind(serde_json::to_vec(&pending).unwrap())
        .execute(&mut change)
        .await
        .unwrap();

        let duplicate = tokio::spawn(claim());
        let waits = "the duplicate is answered or waits";
        crate::support::until_waiting_on_a_lock(&pool, None, || duplicate.is_finished(), waits).await;
        sqlx::query("COMMIT").execute(&mut change).await.unwrap();
        assert_eq!(
            duplicate.await.unwrap().unwrap(),
            ClaimOutcome::Duplicate {
                payment_id: payment_id.clone()
            }
        );

        let newest: Vec<u8> = sqlx::query_scalar(
            "SELECT body FROM outbox WHERE payment_id = $1 AND kind = 'result' ORDER BY id DESC LIMIT 1",
        )
        .bind(payment_id.as_str())
        .fetch_one(&pool)
        .await
        .unwrap();
        let newest: serde_json::Value = serde_json::from_slice(&newest).unwrap();
        assert_eq!(
            (newest["seq"].as_i64(), newest["status"].as_str()),
            (Some(2), Some("pending")),
            "the duplicate's copy is of the result committed meanwhile"
        );
        pool.close().await;
        drop(store);
        drop_database(db, &run_id).await;
    }
}
