//! Bank callbacks: forged, stale, oversized and replayed callbacks change nothing; a valid
//! one finishes the payment; one that contradicts the record sends it to review, and a
//! consistent one settles a payment in review.

use std::time::Duration;

use adapter_bank_transfer::WebhookSecret;
use gateway::payment::{PaymentState, ResultStatus};
use serde_json::{json, Value};

use crate::support::{completed_bank_callback, Db, TestStack, BANK_WEBHOOK_SECRET as SECRET};

crate::on_both_databases!(
    forged_stale_and_replayed_callbacks_change_nothing,
    a_callback_with_another_amount_goes_to_review,
    a_signed_completion_without_the_amount_goes_to_review_and_a_consistent_one_settles_it,
);

async fn post(stack: &TestStack, secret: &str, id: &str, timestamp: i64, body: Vec<u8>) -> (u16, Value) {
    let signature = WebhookSecret::parse(secret).unwrap().sign(id, timestamp, &body);
    let response = reqwest::Client::new()
        .post(format!("{}/callbacks/bank_transfer", stack.gateway_url()))
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn state_of(stack: &TestStack, payment_id: &str) -> PaymentState {
    stack
        .gateway
        .as_ref()
        .unwrap()
        .store
        .payment(payment_id)
        .await
        .unwrap()
        .unwrap()
        .state
}

async fn forged_stale_and_replayed_callbacks_change_nothing(db: Db) {
    let mut stack = TestStack::start(db).await;
    let (order_id, payment_id) = stack.pending_bank_order(2_789_000).await;
    let now = chrono::Utc::now().timestamp();
    let body = completed_bank_callback(&payment_id, &order_id, 2_789_000);
    let forger = "whsec_Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0";

    let (status, answer) = post(&stack, forger, "msg_forged", now, body.clone()).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("bad_signature")));
    let (status, answer) = post(&stack, SECRET, "msg_stale", now - 3_600, body.clone()).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("stale_timestamp")));
    let (status, _) = post(&stack, SECRET, "msg_big", now, vec![b' '; 200_000]).await;
    assert_eq!(status, 413);
    let unsigned = reqwest::Client::new()
        .post(format!("{}/callbacks/bank_transfer", stack.gateway_url()))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    // A stamp that is no number is bad input, not a failed authentication.
    let unreadable = reqwest::Client::new()
        .post(format!("{}/callbacks/bank_transfer", stack.gateway_url()))
        .header("webhook-id", "msg_unreadable")
        .header("webhook-timestamp", "abc")
        .header("webhook-signature", "v1,AAAA")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unreadable.status().as_u16(), 400);
    let answer: Value = unreadable.json().await.unwrap_or(Value::Null);
    assert_eq!(answer["code"], "malformed_callback", "{answer}");
    assert_eq!(
        state_of(&stack, &payment_id).await,
        PaymentState::Pending,
        "refused callbacks changed nothing"
    );

    let (status, answer) = post(&stack, SECRET, "msg_valid", now, body.clone()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")));
    assert_eq!(state_of(&stack, &payment_id).await, PaymentState::Succeeded);
    let (status, answer) = post(&stack, SECRET, "msg_valid", now, body.clone()).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("duplicate")));
    // The same event id with another body does not verify.
    let other = completed_bank_callback(&payment_id, &order_id, 9_999_999);
    let signature = WebhookSecret::parse(SECRET).unwrap().sign("msg_valid", now, &body);
    let replayed = reqwest::Client::new()
        .post(format!("{}/callbacks/bank_transfer", stack.gateway_url()))
        .header("webhook-id", "msg_valid")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(other)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status().as_u16(), 401);

    // A verified callback that reverses the final state changes nothing, but it is recorded,
    // upstream gets a non-final `needs_review` result after the final one, and ops a dead letter.
    let mut failed: Value = serde_json::from_slice(&body).unwrap();
    failed["type"] = json!("transfer.failed");
    failed["data"]["status"] = json!("FAILED");
    failed["data"]["reason_code"] = json!("ACCOUNT_CLOSED");
    let (status, answer) = post(
        &stack,
        SECRET,
        "msg_late_failure",
        now,
        serde_json::to_vec(&failed).unwrap(),
    )
    .await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("reversal")));
    assert_eq!(
        state_of(&stack, &payment_id).await,
        PaymentState::Succeeded,
        "final states never change"
    );
    let succeeded = stack.final_result(&order_id).await;
    let reversal = stack
        .wait_for(
            &order_id,
            |m| m.reason_code.as_deref() == Some("callback_contradicts_final"),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        (reversal.status, reversal.is_final, reversal.seq),
        (ResultStatus::NeedsReview, false, succeeded.seq + 1),
        "upstream is told, after the final result"
    );
    let dead = stack.next_dead_letter().await;
    assert_eq!(
        dead.headers.get("x-gateway-reason").map(String::as_str),
        Some("contradiction")
    );
    let view = stack
        .gateway
        .as_ref()
        .unwrap()
        .store
        .order_view(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        view.events
            .iter()
            .any(|e| e.reason_code.as_deref() == Some("callback_contradicts_final")),
        "the contradiction is on the record: {:?}",
        view.events
    );

    stack.final_result(&order_id).await;
    stack.drain_results(Duration::from_secs(1)).await;
    let finals = stack.seen[&order_id].iter().filter(|m| m.is_final).count();
    assert_eq!(finals, 1, "one final result despite the replay");
    let store = &stack.gateway.as_ref().unwrap().store;
    assert_eq!(
        store.callback_count(&payment_id).await.unwrap(),
        2,
        "the valid callback and the late failure"
    );
    stack.stop().await;
}

async fn a_callback_with_another_amount_goes_to_review(db: Db) {
    let mut stack = TestStack::start(db).await;
    let (order_id, payment_id) = stack.pending_bank_order(500_000).await;
    let now = chrono::Utc::now().timestamp();
    let (status, _) = post(
        &stack,
        SECRET,
        "msg_amount",
        now,
        completed_bank_callback(&payment_id, &order_id, 5_000_000),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(state_of(&stack, &payment_id).await, PaymentState::NeedsReview);
    let review = stack
        .wait_for(
            &order_id,
            |m| m.status == ResultStatus::NeedsReview,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(review.reason_code.as_deref(), Some("callback_contradicts_record"));
    assert!(!review.is_final);
    stack.stop().await;
}

async fn a_signed_completion_without_the_amount_goes_to_review_and_a_consistent_one_settles_it(db: Db) {
    let mut stack = TestStack::start(db).await;
    let (order_id, payment_id) = stack.pending_bank_order(500_000).await;
    let now = chrono::Utc::now().timestamp();
    let mut without_amount: Value =
        serde_json::from_slice(&completed_bank_callback(&payment_id, &order_id, 0)).unwrap();
    let (status, _) = post(
        &stack,
        SECRET,
        "msg_zero",
        now,
        serde_json::to_vec(&without_amount).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        state_of(&stack, &payment_id).await,
        PaymentState::NeedsReview,
        "amount 0 is no proof of payment"
    );
    without_amount["data"].as_object_mut().unwrap().remove("amount");
    let (status, _) = post(
        &stack,
        SECRET,
        "msg_absent",
        now,
        serde_json::to_vec(&without_amount).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(state_of(&stack, &payment_id).await, PaymentState::NeedsReview);
    let review = stack
        .wait_for(
            &order_id,
            |m| m.status == ResultStatus::NeedsReview,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(review.reason_code.as_deref(), Some("callback_contradicts_record"));

    // The provider then reports the completion properly: that settles the review.
    let (status, answer) = post(
        &stack,
        SECRET,
        "msg_proper",
        now,
        completed_bank_callback(&payment_id, &order_id, 500_000),
    )
    .await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")));
    let settled = stack.final_result(&order_id).await;
    assert_eq!(settled.status, ResultStatus::Succeeded);
    assert!(settled.seq > review.seq);
    let view = stack
        .gateway
        .as_ref()
        .unwrap()
        .store
        .order_view(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        view.events.iter().any(|e| e
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("settles a payment in review"))),
        "the event log says what settled it: {:?}",
        view.events
    );
    stack.stop().await;
}

crate::bounded_test! {
    /// A callback that comes while the database cannot be reached is answered 503
    /// `store_unavailable` — a provider sends it again on a 5xx, where a 4xx would end its
    /// retries and lose it — and the same callback sent again once the database is back is
    /// applied. (PostgreSQL: the gateway's connections are ended and new ones refused.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_callback_while_the_store_is_down_is_answered_503_and_applied_when_sent_again() {
        use sqlx::Executor;
        let mut stack = TestStack::start(Db::Postgres).await;
        let (order_id, payment_id) = stack.pending_bank_order(1_234_000).await;
        let body = completed_bank_callback(&payment_id, &order_id, 1_234_000);
        let database = format!("gateway_test_{}", stack.run_id);
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&crate::support::postgres_admin_url())
            .await
            .unwrap();
        admin
            .execute(format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false").as_str())
            .await
            .unwrap();
        admin
            .execute(
                format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'").as_str(),
            )
            .await
            .unwrap();

        let now = chrono::Utc::now().timestamp();
        let (status, answer) = post(&stack, SECRET, "msg_while_down", now, body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (503, Some("store_unavailable")),
            "{answer}"
        );

        admin
            .execute(format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true").as_str())
            .await
            .unwrap();
        // As a provider does: again after a while, until it is taken (the first may still meet a
        // pooled connection that was ended, which the pool then replaces).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let (status, answer) = loop {
            let (status, answer) = post(&stack, SECRET, "msg_while_down", now, body.clone()).await;
            if status != 503 || tokio::time::Instant::now() > deadline {
                break (status, answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")), "{answer}");
        assert_eq!(state_of(&stack, &payment_id).await, PaymentState::Succeeded);
        stack.stop().await;
    }
}
