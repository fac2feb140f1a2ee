//! Claims of one group commit are written together (multi-row inserts): each still gets the
//! outcome it would have had alone — new, duplicate, conflict, held for a possible duplicate
//! payment, after an earlier rejection — and one the store refuses fails alone.
//!
//! On a current-thread runtime every claim below is queued before the writer runs, so on SQLite
//! (one writer) they share one batch. On PostgreSQL (several writers, routed by order id) they
//! share batches by shard.

use gateway::config::DuplicatePaymentPolicy;
use gateway::order::{parse_order, PaymentOrder};
use gateway::store::{ClaimOutcome, Rejection, StoreError, StoredProperties};
use gateway_adapter::Invalid;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::Connection;

use crate::support::{
    all_at_once, bank_order, claim_fresh, drop_database, store_for_one_batch, until_waiting_on_a_lock, Db,
};

crate::on_both_databases!(
    current_thread:
    claims_of_one_batch_get_the_outcomes_they_would_get_alone,
    a_payment_id_held_under_another_key_is_a_conflict_not_an_error,
);

async fn claims_of_one_batch_get_the_outcomes_they_would_get_alone(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(db, &run_id).await;
    let parse = |order: &Value| parse_order(&serde_json::to_vec(order).unwrap(), &settings.limits).unwrap();

    let fresh: Vec<Value> = (0..6).map(|i| bank_order(500_000 + i)).collect();
    // The same order delivered twice in the batch.
    let redelivered = fresh[0].clone();
    // The idempotency key of fresh[1] with another payload.
    let mut same_key = fresh[1].clone();
    same_key["amount"] = json!("900000");
    // The order id of fresh[2] under another idempotency key.
    let mut same_order_id = bank_order(510_000);
    same_order_id["order_id"] = fresh[2]["order_id"].clone();
    same_order_id["idempotency_key"] = json!("another-key-for-the-same-order-id");
    // A second order for fresh[3]'s beneficiary, program, period and payment type.
    let mut same_beneficiary = bank_order(520_000);
    same_beneficiary["beneficiary"] = fresh[3]["beneficiary"].clone();
    // An order whose order id was rejected once before: it continues at seq 2.
    let corrected = bank_order(530_000);
    let invalid = Invalid::new("invalid_amount", "amount is not an integer");
    let rejection = Rejection {
        order_id: corrected["order_id"].as_str().unwrap().to_string(),
        channel: Some("bank_transfer".to_string()),
        batch_id: None,
        invalid: &invalid,
    };
    store
        .reject(&rejection, b"{}", &StoredProperties::default())
        .await
        .unwrap();

    let mut batch: Vec<(PaymentOrder, &str)> = fresh.iter().map(|order| (parse(order), "bank_transfer")).collect();
    for order in [&redelivered, &same_key, &same_order_id, &same_beneficiary, &corrected] {
        batch.push((parse(order), "bank_transfer"));
    }
    // A claim the store refuses (PostgreSQL keeps no NUL byte in text; SQLite does).
    let refused = bank_order(540_000);
    batch.push((parse(&refused), "bank\u{0}transfer"));

    let properties = StoredProperties::default();
    let outcomes = all_at_once(
        batch
            .iter()
            .map(|(order, provider)| store.claim(order, provider, b"{}", &properties, DuplicatePaymentPolicy::Review))
            .collect(),
    )
    .await;

    let claimed_id = |outcome: &Result<ClaimOutcome, StoreError>| match outcome {
        Ok(ClaimOutcome::Claimed { payment_id, .. }) => payment_id.clone(),
        other => panic!("expected a new claim, got {other:?}"),
    };
    let state_of = |outcome: &Result<ClaimOutcome, StoreError>| match outcome {
        Ok(ClaimOutcome::Claimed { state, .. }) => state.as_str(),
        other => panic!("expected a new claim, got {other:?}"),
    };
    let fresh_ids: Vec<String> = outcomes[..6].iter().map(claimed_id).collect();
    for (index, outcome) in outcomes[..6].iter().enumerate().filter(|(index, _)| *index != 3) {
        assert_eq!(state_of(outcome), "accepted", "fresh order {index}");
    }
    // Of two orders for one beneficiary's slot that arrive together, one is held as a possible
    // duplicate payment (which one is the batch's order, or on PostgreSQL, whose writers commit
    // side by side, the order of their commits).
    let mut slot_states = [state_of(&outcomes[3]), state_of(&outcomes[9])];
    slot_states.sort_unstable();
    assert_eq!(slot_states, ["accepted", "needs_review"]);
    assert_eq!(
        outcomes[6].as_ref().unwrap(),
        &ClaimOutcome::Duplicate {
            payment_id: fresh_ids[0].clone()
        }
    );
    assert_eq!(
        outcomes[7].as_ref().unwrap(),
        &ClaimOutcome::Conflict {
            payment_id: fresh_ids[1].clone()
        }
    );
    assert_eq!(
        outcomes[8].as_ref().unwrap(),
        &ClaimOutcome::Conflict {
            payment_id: fresh_ids[2].clone()
        }
    );
    let corrected_id = claimed_id(&outcomes[10]);
    assert_eq!(state_of(&outcomes[10]), "accepted");
    match db {
        Db::Postgres => assert!(
            matches!(outcomes[11], Err(StoreError::Unstorable(_))),
            "{:?}",
            outcomes[11]
        ),
        Db::Sqlite => assert_eq!(state_of(&outcomes[11]), "accepted"),
    }

    let pool = sqlx::AnyPool::connect(settings.database.url.expose_secret())
        .await
        .unwrap();
    let results = |payment_id: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (String, Vec<u8>)>(
                "SELECT routing_key, body FROM outbox WHERE payment_id = $1 AND kind = 'result' ORDER BY id",
            )
            .bind(payment_id)
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(key, body)| {
                let body: Value = serde_json::from_slice(&body).unwrap();
                (key, body["seq"].as_i64().unwrap())
            })
            .collect::<Vec<_>>()
        }
    };
    let accepted = ("result.bank_transfer.accepted".to_string(), 1);
    assert_eq!(
        results(fresh_ids[0].clone()).await,
        [accepted.clone(), accepted.clone()],
        "the redelivery got the result again"
    );
    for (index, id) in fresh_ids.iter().enumerate().skip(1) {
        let expected = if index == 3 && state_of(&outcomes[3]) == "needs_review" {
            ("result.bank_transfer.needs_review".to_string(), 1)
        } else {
            accepted.clone()
        };
        assert_eq!(results(id.clone()).await, [expected], "one first result each");
    }
    assert_eq!(
        results(corrected_id).await,
        [("result.bank_transfer.accepted".to_string(), 2)],
        "after its rejection (seq 1) the corrected order's first result is seq 2"
    );
    let payments: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payments")
        .fetch_one(&pool)
        .await
        .unwrap();
    let expected = match db {
        Db::Postgres => 8,
        Db::Sqlite => 9,
    };
    assert_eq!(
        payments, expected,
        "six new, the held one, the corrected one (and the refused one on SQLite)"
    );
    let conflicts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'dead_letter' AND headers LIKE '%conflict%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(conflicts, 2, "both conflicts dead-lettered");
    drop(store);
    drop_database(db, &run_id).await;
}

/// A payment id is a hash of the idempotency key, and a claim whose payment id is taken finds
/// the payment holding it by that id (PostgreSQL keeps no index on the key). Two keys with one
/// hash are never seen in practice; here a payment's key and order id are rewritten so that
/// its id is held under another key, and the order claimed again must be a conflict (dead
/// letter, nothing paid), not a store error that would leave it to be redelivered forever.
async fn a_payment_id_held_under_another_key_is_a_conflict_not_an_error(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(db, &run_id).await;
    let order = bank_order(600_000);
    let payment_id = claim_fresh(&store, &settings, &order, "bank_transfer").await;
    let pool = sqlx::AnyPool::connect(settings.database.url.expose_secret())
        .await
        .unwrap();
    sqlx::query("UPDATE payments SET idempotency_key = 'a-key-with-the-same-hash', order_id = 'another-order' WHERE payment_id = $1")
        .bind(payment_id.as_str())
        .execute(&pool)
        .await
        .unwrap();

    let parsed = parse_order(&serde_json::to_vec(&order).unwrap(), &settings.limits).unwrap();
    let outcome = store
        .claim(
            &parsed,
            "bank_transfer",
            b"{}",
            &StoredProperties::default(),
            DuplicatePaymentPolicy::Review,
        )
        .await;
    assert_eq!(
        outcome.expect("the claim is answered"),
        ClaimOutcome::Conflict {
            payment_id: payment_id.clone()
        }
    );
    let dead: Vec<String> = sqlx::query_scalar("SELECT headers FROM outbox WHERE kind = 'dead_letter'")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].contains("already held by another idempotency key"),
        "{}",
        dead[0]
    );
    let payments: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(payments, 1, "nothing new to pay");
    drop(store);
    drop_database(db, &run_id).await;
}

crate::bounded_test! {
    /// PostgreSQL, two gateways: a new order finds its beneficiary's period held by a failed
    /// payment (which paid nothing) and tries to take it over, but another gateway's new order
    /// holds the period's row and takes it over first. The claim is held as a possible duplicate
    /// payment naming the payment that holds the period now — not the failed one, which a
    /// reviewer would read as "nothing paid" and release, paying the beneficiary twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_period_taken_over_by_another_gateway_meanwhile_names_its_new_holder() {
        let db = Db::Postgres;
        let run_id = gateway::demo::stack::new_run_id();
        let (settings, store) = store_for_one_batch(db, &run_id).await;
        let first = bank_order(700_000);
        let failed_id = claim_fresh(&store, &settings, &first, "bank_transfer").await;
        // The other gateway's new order, for the same period; a payment of its own.
        let taker_id = claim_fresh(&store, &settings, &bank_order(700_001), "bank_transfer").await;
        let url = settings.database.url.expose_secret().to_string();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("UPDATE payments SET state = 'failed' WHERE payment_id = $1")
            .bind(failed_id.as_str())
            .execute(&pool)
            .await
            .unwrap();

        // The other gateway's transaction holds the period's row while it decides.
        let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut other).await.unwrap();
        sqlx::query("SELECT payment_id FROM beneficiary_periods WHERE payment_id = $1 FOR UPDATE")
            .bind(failed_id.as_str())
            .fetch_one(&mut other)
            .await
            .unwrap();
        let mut second = bank_order(700_002);
        second["beneficiary"] = first["beneficiary"].clone();
        let second = parse_order(&serde_json::to_vec(&second).unwrap(), &settings.limits).unwrap();
        let claiming = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .claim(
                        &second,
                        "bank_transfer",
                        b"{}",
                        &StoredProperties::default(),
                        DuplicatePaymentPolicy::Review,
                    )
                    .await
            }
        });
        // This claim has read the failed holder and waits on the row to take it over.
        until_waiting_on_a_lock(&pool, None, || false, "the claim waits on the period's row").await;
        sqlx::query("UPDATE beneficiary_periods SET payment_id = $1 WHERE payment_id = $2")
            .bind(taker_id.as_str())
            .bind(failed_id.as_str())
            .execute(&mut other)
            .await
            .unwrap();
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();

        let claimed = claiming.await.unwrap().expect("the claim is written");
        let ClaimOutcome::Claimed { payment_id, state, .. } = claimed else {
            panic!("a new payment, held: {claimed:?}");
        };
        assert_eq!(state.as_str(), "needs_review");
        let (reason_code, reason): (String, String) =
            sqlx::query_as("SELECT reason_code, reason FROM payments WHERE payment_id = $1")
                .bind(payment_id.as_str())
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(reason_code, "possible_duplicate_payment");
        assert!(
            reason.contains(taker_id.as_str()),
            "names the payment holding the period: {reason}"
        );
        assert!(!reason.contains(failed_id.as_str()), "not the failed one: {reason}");
        drop(store);
        pool.close().await;
        drop_database(db, &run_id).await;
    }
}

crate::bounded_test! {
    /// PostgreSQL, two gateways: one rejects a broken copy of an order while the other claims a
    /// valid copy of it, at the same moment. Whichever goes first, the other must see it: the
    /// claim numbers its first result after the rejection (`<order_id>:2`), or the rejection
    /// finds the payment and only dead-letters its copy. Read committed alone lets each miss
    /// the other's uncommitted row, and upstream would get `rejected` and `accepted` both as
    /// `<order_id>:1` (one dropped as a duplicate) for an order that is being paid. Here the
    /// rejection is stopped inside its transaction (a test transaction holds the row it inserts)
    /// while the claim comes in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_claim_and_a_rejection_of_one_order_id_at_two_gateways_take_turns() {
        let db = Db::Postgres;
        let run_id = gateway::demo::stack::new_run_id();
        let (settings, rejecting) = store_for_one_batch(db, &run_id).await;
        let claiming = gateway::store::Store::connect(&settings.database)
            .await
            .expect("the second gateway's store connects");
        let url = settings.database.url.expose_secret().to_string();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let order = bank_order(800_000);
        let order_id = order["order_id"].as_str().unwrap().to_string();

        let mut stall = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut stall).await.unwrap();
        sqlx::query("INSERT INTO rejected_orders (order_id, rejected_at) VALUES ($1, 0)")
            .bind(order_id.as_str())
            .execute(&mut stall)
            .await
            .unwrap();
        let rejection = tokio::spawn({
            let order_id = order_id.clone();
            async move {
                let invalid = Invalid::new("invalid_amount", "amount is not an integer");
                let rejection = Rejection {
                    order_id,
                    channel: Some("bank_transfer".to_string()),
                    batch_id: None,
                    invalid: &invalid,
                };
                rejecting.reject(&rejection, b"{}", &StoredProperties::default()).await
            }
        });
        let waits = "the rejection waits inside its transaction";
        until_waiting_on_a_lock(&pool, Some("transactionid"), || false, waits).await;

        let parsed = parse_order(&serde_json::to_vec(&order).unwrap(), &settings.limits).unwrap();
        let claim = tokio::spawn(async move {
            claiming
                .claim(&parsed, "bank_transfer", b"{}", &StoredProperties::default(), DuplicatePaymentPolicy::Review)
                .await
        });
        // The claim either waits for the rejection, or (what must not happen) is written before it.
        let waits = "the claim is written or waits";
        until_waiting_on_a_lock(&pool, Some("advisory"), || claim.is_finished(), waits).await;
        sqlx::query("ROLLBACK").execute(&mut stall).await.unwrap();
        rejection.await.unwrap().expect("the rejection is written");
        let claimed = claim.await.unwrap().expect("the claim is written");
        assert!(matches!(claimed, ClaimOutcome::Claimed { .. }), "{claimed:?}");

        let bodies: Vec<Vec<u8>> = sqlx::query_scalar("SELECT body FROM outbox WHERE kind = 'result' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        let results: Vec<(String, i64)> = bodies
            .iter()
            .map(|body| serde_json::from_slice::<Value>(body).unwrap())
            .filter(|body| body["order_id"] == order_id.as_str())
            .map(|body| (body["status"].as_str().unwrap().to_string(), body["seq"].as_i64().unwrap()))
            .collect();
        assert_eq!(
            results,
            [("rejected".to_string(), 1), ("accepted".to_string(), 2)],
            "the rejection is result 1 and the claim's first result follows it"
        );
        pool.close().await;
        drop_database(db, &run_id).await;
    }
}
