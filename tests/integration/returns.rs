//! A payout the provider returned leaves the beneficiary unpaid, so the order upstream
//! reissues for them must be paid: the duplicate-payment guard and the wallet's month let it.

use std::time::Duration;

use gateway::payment::ResultStatus;
use gateway::store::{ForgetOutcome, ReturnOutcome, ReturnToApply, Settlement, Store};
use serde_json::Value;

use crate::support::{bank_order, test_settings, wallet_order, Db, TestStack, HOLDER};

crate::on_both_databases!(
    a_returned_wallet_payout_can_be_reissued_to_the_same_beneficiary_and_wallet,
    a_settlement_the_statements_contradict_is_refused,
);

/// 6,000,000 đồng twice is over the wallet's 10,000,000 a month, and the same beneficiary,
/// program, period and payment type twice is a possible duplicate: both only because the
/// first credit did not come back.
async fn a_returned_wallet_payout_can_be_reissued_to_the_same_beneficiary_and_wallet(db: Db) {
    let mut settings = test_settings();
    // The emulated wallet does not learn of the return (the test applies it in the gateway
    // only), so its own monthly cap, a backstop behind the gateway's, is lifted here.
    settings
        .sandbox
        .providers
        .get_mut("viettel_money")
        .expect("an emulated wallet")["monthly_limit_vnd"] = Value::from(100_000_000);
    let mut stack = TestStack::start_with(db, settings, true).await;
    let first = wallet_order("viettel_money", 6_000_000);
    stack.open_account(&first, HOLDER);
    stack.publish(&first).await;
    let first_id = first["order_id"].as_str().unwrap_or_default().to_string();
    let paid = stack.final_result(&first_id).await;
    assert_eq!(paid.status, ResultStatus::Succeeded);

    let store = Store::connect(&stack.settings.database)
        .await
        .expect("the store answers");
    let returned = store
        .apply_return(&ReturnToApply {
            provider: "viettel_money".into(),
            entry_ref: format!("RET-{first_id}"),
            payment_id: paid.payment_id.clone().unwrap_or_default(),
            amount: 6_000_000,
            reason_code: "AC04".into(),
            booked_on: "2026-12-05".into(),
            reason: "the wallet was closed".into(),
        })
        .await
        .expect("the return is stored");
    assert!(matches!(returned, ReturnOutcome::Applied { .. }), "{returned:?}");

    let mut reissued = first.clone();
    reissued["order_id"] = Value::from(format!("{first_id}-R"));
    stack.publish(&reissued).await;
    let result = stack
        .wait_for(&format!("{first_id}-R"), |m| m.is_final, Duration::from_secs(30))
        .await;
    assert_eq!(
        (result.status, result.reason_code.as_deref()),
        (ResultStatus::Succeeded, None),
        "{result:?}"
    );
    drop(store);
    stack.stop().await;
}

crate::bounded_test! {
    /// Two returns of one payment at once on PostgreSQL (a reconciliation and a `carried
    /// forget --as refunded`, or two reconciliations): the second waits for the first on the
    /// payment's key, and then finds the payment returned earlier, as it would a moment later
    /// (the store's writer runs a batch whose unit failed again unit by unit), not a unique-key
    /// error that would stop a reconciliation half-way.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_return_racing_another_of_the_same_payment_finds_it_returned_earlier() {
        use secrecy::ExposeSecret;
        use sqlx::Connection;
        let mut stack = TestStack::start(Db::Postgres).await;
        let order = bank_order(1_200_000);
        stack.open_bank_account(&order, HOLDER);
        stack.publish(&order).await;
        let paid = stack.final_result(order["order_id"].as_str().unwrap_or_default()).await;
        assert_eq!(paid.status, ResultStatus::Succeeded);
        let payment_id = paid.payment_id.clone().unwrap_or_default();
        let store = Store::connect(&stack.settings.database).await.expect("the store answers");

        // The first return, written and not committed yet.
        let mut first = sqlx::AnyConnection::connect(stack.settings.database.url.expose_secret())
            .await
            .expect("a connection");
        sqlx::query("BEGIN").execute(&mut first).await.expect("begun");
        sqlx::query(
            "INSERT INTO reconciliation_items (provider, entry_ref, kind, payment_id, amount, reason_code, \
             booked_on, applied_at) VALUES ('bank_transfer', 'RET-FIRST', 'returned', $1, 1200000, 'AC04', \
             '2026-12-05', 0)",
        )
        .bind(&payment_id)
        .execute(&mut first)
        .await
        .expect("the first return is written");
        let second = {
            let (store, payment_id) = (store.clone(), payment_id.clone());
            tokio::spawn(async move {
                store
                    .apply_return(&ReturnToApply {
                        provider: "bank_transfer".into(),
                        entry_ref: "RET-SECOND".into(),
                        payment_id,
                        amount: 1_200_000,
                        reason_code: "AC04".into(),
                        booked_on: "2026-12-06".into(),
                        reason: "returned again".into(),
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!second.is_finished(), "the second waits for the first on the payment's key");
        sqlx::query("COMMIT").execute(&mut first).await.expect("committed");
        let outcome = second.await.expect("it ran").expect("no store error");
        assert_eq!(
            outcome,
            ReturnOutcome::ReturnedEarlier {
                entry_ref: "RET-FIRST".into()
            }
        );
        stack.stop().await;
    }
}

/// A person's settlement of a carried payment that the statements contradict was taken as
/// said: credited, though a statement returned it (the money came back), and refunded, though
/// a statement booked it twice (the beneficiary may still hold the other payout: a `returned`
/// result would have upstream pay a third time). Both are refused, and nothing is written.
async fn a_settlement_the_statements_contradict_is_refused(db: Db) {
    use secrecy::ExposeSecret;
    use sqlx::Connection;
    let mut stack = TestStack::start(db).await;
    let orders = [bank_order(1_300_000), bank_order(1_400_000)];
    let mut paid = Vec::new();
    for order in &orders {
        stack.open_bank_account(order, HOLDER);
        stack.publish(order).await;
    }
    for order in &orders {
        let result = stack.final_result(order["order_id"].as_str().unwrap_or_default()).await;
        assert_eq!(result.status, ResultStatus::Succeeded);
        paid.push(result.payment_id.unwrap_or_default());
    }
    let (returned, booked_twice) = (paid[0].clone(), paid[1].clone());
    let today = sandbox_kit::statement::vietnam_date(chrono::Utc::now()).to_string();
    // What reconciliations remembered: both carried; the first returned by a statement line,
    // the second booked twice.
    let mut connection = sqlx::AnyConnection::connect(stack.settings.database.url.expose_secret())
        .await
        .expect("a connection");
    for (entry_ref, kind, payment_id, amount) in [
        (format!("carried:{returned}"), "carried", &returned, 1_300_000),
        ("RET-1".to_string(), "returned", &returned, 1_300_000),
        (format!("carried:{booked_twice}"), "carried", &booked_twice, 1_400_000),
        ("PAY-2".to_string(), "extra_payout", &booked_twice, 1_400_000),
    ] {
        sqlx::query(
            "INSERT INTO reconciliation_items (provider, entry_ref, kind, payment_id, amount, reason_code, \
             booked_on, applied_at) VALUES ('bank_transfer', $1, $2, $3, $4, NULL, $5, 0)",
        )
        .bind(entry_ref)
        .bind(kind)
        .bind(payment_id)
        .bind(amount as i64)
        .bind(&today)
        .execute(&mut connection)
        .await
        .expect("remembered");
    }
    let _ = connection.close().await;

    let store = Store::connect(&stack.settings.database)
        .await
        .expect("the store answers");
    let credited = store
        .forget_carried(
            "bank_transfer",
            &returned,
            &Settlement::Credited,
            "ops",
            "credited, ticket 7",
        )
        .await
        .expect("no store error");
    assert_eq!(
        credited,
        ForgetOutcome::ReturnedNotCredited {
            entry_ref: "RET-1".into()
        }
    );
    let refunded = store
        .forget_carried(
            "bank_transfer",
            &booked_twice,
            &Settlement::Refunded { on: today.clone() },
            "ops",
            "refunded, ticket 8",
        )
        .await
        .expect("no store error");
    assert_eq!(refunded, ForgetOutcome::PaidMoreThanOnce { on: today });
    let carried = store.carried(Some("bank_transfer")).await.expect("listed");
    assert_eq!(carried.len(), 2, "both still carried: {carried:?}");
    stack.stop().await;
}
