//! The wallet reservations of one group commit are checked and taken together (one upsert of
//! the wallets' month rows, one read of their live reservations, one insert): each still gets
//! the outcome it would have had alone in the batch's order — a reservation counts the ones
//! taken before it in the batch, one over the limit is refused and takes nothing, a payment's
//! own reservation is never counted twice, and a second reservation of one payment sees the
//! first. A payment checked again in a later month takes its reservation there.

use gateway::payment::PaymentState;
use gateway::store::{Change, StoreError, WalletReservation};
use secrecy::ExposeSecret;

use crate::support::{all_at_once, claim_fresh, drop_database, store_for_one_batch, wallet_order, Db};

crate::on_both_databases!(
    current_thread:
    reservations_of_one_batch_get_the_outcomes_they_would_get_alone,
    a_payment_checked_again_in_a_later_month_holds_that_months_limit,
    a_payout_sent_again_in_a_later_month_holds_that_months_limit,
);

const PROVIDER: &str = "mobile_money_test";

/// A wallet number of this run: `prefix` and seven digits from `run_id`.
fn msisdn(run_id: &str, prefix: &str) -> String {
    let digits: String = run_id
        .bytes()
        .take(7)
        .map(|byte| char::from(b'0' + byte % 10))
        .collect();
    format!("{prefix}{digits}")
}
const MONTH: &str = "2026-12";
const LIMIT: i64 = 1_000_000;

async fn reservations_of_one_batch_get_the_outcomes_they_would_get_alone(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(db, &run_id).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(claim_fresh(&store, &settings, &wallet_order("viettel_money", 100_000), PROVIDER).await);
    }
    let [a, b, c, d, e] = <[String; 5]>::try_from(ids).unwrap();
    let (wallet, other_wallet) = (msisdn(&run_id, "+8491"), msisdn(&run_id, "+8492"));
    let reserve = |payment_id: &str, msisdn: &str, amount: i64| {
        let store = &store;
        let (payment_id, msisdn) = (payment_id.to_string(), msisdn.to_string());
        async move {
            store
                .reserve_wallet_month(&payment_id, PROVIDER, &msisdn, MONTH, amount, LIMIT)
                .await
        }
    };
    // E holds 200,000 of the wallet's month before the batch.
    assert_eq!(
        reserve(&e, &wallet, 200_000).await.unwrap(),
        WalletReservation::Reserved
    );

    let answers: Vec<Result<WalletReservation, StoreError>> = all_at_once(vec![
        reserve(&a, &wallet, 500_000),
        reserve(&b, &wallet, 400_000),
        reserve(&c, &wallet, 300_000),
        reserve(&d, &other_wallet, 900_000),
        reserve(&e, &wallet, 200_000),
        reserve(&a, &wallet, 500_000),
    ])
    .await;
    let answers: Vec<WalletReservation> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        answers,
        [
            WalletReservation::Reserved,
            WalletReservation::OverLimit { already: 700_000 },
            WalletReservation::Reserved,
            WalletReservation::Reserved,
            WalletReservation::Reserved,
            WalletReservation::Reserved,
        ],
        "A fits beside E; B would go over (E and A hold 700,000); C fits exactly; another wallet \
         is apart; E and A again do not count themselves"
    );

    let pool = sqlx::AnyPool::connect(settings.database.url.expose_secret())
        .await
        .unwrap();
    let mut reserved: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT payment_id, msisdn, amount FROM wallet_reservations WHERE provider = $1 ORDER BY payment_id",
    )
    .bind(PROVIDER)
    .fetch_all(&pool)
    .await
    .unwrap();
    reserved.sort();
    let mut expected = vec![
        (a.clone(), wallet.clone(), 500_000),
        (c.clone(), wallet.clone(), 300_000),
        (d.clone(), other_wallet.clone(), 900_000),
        (e.clone(), wallet.clone(), 200_000),
    ];
    expected.sort();
    assert_eq!(reserved, expected, "B took nothing, and nobody twice");
    let checks: Vec<(String, i64)> =
        sqlx::query_as("SELECT msisdn, checks FROM wallet_months WHERE provider = $1 ORDER BY msisdn")
            .bind(PROVIDER)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        checks,
        vec![(wallet.clone(), 6), (other_wallet.clone(), 1)],
        "every check is counted, refused ones too"
    );
    pool.close().await;
    drop(store);
    drop_database(db, &run_id).await;
}

/// A wallet payout whose checks ran on the last day of a month and which was not sent (the
/// provider was down) is checked again in the next month: its reservation moves to that month,
/// so a second payout to the wallet cannot take that month's whole limit beside it. Both ways a
/// reservation is written: alone, and together with others in one group commit.
async fn a_payment_checked_again_in_a_later_month_holds_that_months_limit(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(db, &run_id).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(claim_fresh(&store, &settings, &wallet_order("viettel_money", 100_000), PROVIDER).await);
    }
    let [a, b, c, d] = <[String; 4]>::try_from(ids).unwrap();
    let (wallet, other_wallet) = (msisdn(&run_id, "+8493"), msisdn(&run_id, "+8494"));
    let reserve = |payment_id: &str, msisdn: &str, month: &'static str| {
        let store = &store;
        let (payment_id, msisdn) = (payment_id.to_string(), msisdn.to_string());
        async move {
            store
                .reserve_wallet_month(&payment_id, PROVIDER, &msisdn, month, 600_000, LIMIT)
                .await
                .unwrap()
        }
    };

    // Alone: A checked in November, then again in December; B in December does not fit beside it.
    assert_eq!(reserve(&a, &wallet, "2026-11").await, WalletReservation::Reserved);
    assert_eq!(reserve(&a, &wallet, "2026-12").await, WalletReservation::Reserved);
    assert_eq!(
        reserve(&b, &wallet, "2026-12").await,
        WalletReservation::OverLimit { already: 600_000 },
        "A's December payout holds 600,000 of December's limit"
    );

    // Together: C checked in November alone, then in December in one batch with D.
    assert_eq!(reserve(&c, &other_wallet, "2026-11").await, WalletReservation::Reserved);
    let answers = all_at_once(vec![
        reserve(&c, &other_wallet, "2026-12"),
        reserve(&d, &other_wallet, "2026-12"),
    ])
    .await;
    assert_eq!(
        answers,
        [
            WalletReservation::Reserved,
            WalletReservation::OverLimit { already: 600_000 }
        ],
        "C's December payout holds 600,000 of December's limit in a batch too"
    );

    let pool = sqlx::AnyPool::connect(settings.database.url.expose_secret())
        .await
        .unwrap();
    let mut held: Vec<(String, String, String)> =
        sqlx::query_as("SELECT payment_id, msisdn, month FROM wallet_reservations WHERE provider = $1")
            .bind(PROVIDER)
            .fetch_all(&pool)
            .await
            .unwrap();
    held.sort();
    let mut expected = vec![
        (a, wallet, "2026-12".to_string()),
        (c, other_wallet, "2026-12".to_string()),
    ];
    expected.sort();
    assert_eq!(
        held, expected,
        "one reservation per payment, in the month it was last checked in"
    );
    pool.close().await;
    drop(store);
    drop_database(db, &run_id).await;
}

/// A wallet payout checked and sent on the last day of a month, whose submit failed (an outage,
/// an open breaker, a provider with no record of it), is sent again in the next month with the
/// same key — no new check, since the first may have been booked — and its money goes then: its
/// reservation moves to that month with the resubmit, so a second payout to the wallet cannot
/// take that month's whole limit beside it. (Before, it stayed in the month of its checks.) The
/// move is written in a batch with another change, as the dispatcher's writes come.
async fn a_payout_sent_again_in_a_later_month_holds_that_months_limit(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = store_for_one_batch(db, &run_id).await;
    let a = claim_fresh(&store, &settings, &wallet_order("viettel_money", 100_000), PROVIDER).await;
    let b = claim_fresh(&store, &settings, &wallet_order("viettel_money", 100_000), PROVIDER).await;
    let other = claim_fresh(&store, &settings, &wallet_order("viettel_money", 100_000), PROVIDER).await;
    let wallet = msisdn(&run_id, "+8495");
    let reserve = |payment_id: &str, month: &'static str| {
        let (store, payment_id, wallet) = (&store, payment_id.to_string(), wallet.clone());
        async move {
            store
                .reserve_wallet_month(&payment_id, PROVIDER, &wallet, month, 600_000, LIMIT)
                .await
                .unwrap()
        }
    };
    let apply = |record: gateway::store::PaymentRecord, change: Change| {
        let store = &store;
        async move {
            store
                .apply(&record, change)
                .await
                .unwrap()
                .expect("the change is written")
        }
    };

    // 30 November: checked, reserved in November, sent; the provider was down.
    assert_eq!(reserve(&a, "2026-11").await, WalletReservation::Reserved);
    let accepted = store.payment(&a).await.unwrap().unwrap();
    let sent = apply(accepted, Change::to(PaymentState::Submitting, "submitting")).await;
    let retry = apply(sent, Change::to(PaymentState::RetryScheduled, "the provider was down")).await;
    // 1 December: sent again, as the dispatcher decides it.
    let mut again = Change::to(PaymentState::Submitting, "submitting again");
    again.wallet_month = Some("2026-12".to_string());
    let other_record = store.payment(&other).await.unwrap().unwrap();
    let written = all_at_once(vec![
        Box::pin(apply(retry, again)) as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>,
        Box::pin(apply(other_record, Change::to(PaymentState::Submitting, "submitting"))),
    ])
    .await;
    assert!(written.iter().all(|record| record.state == PaymentState::Submitting));

    assert_eq!(
        reserve(&b, "2026-12").await,
        WalletReservation::OverLimit { already: 600_000 },
        "A's payout, sent in December, holds 600,000 of December's limit"
    );
    let pool = sqlx::AnyPool::connect(settings.database.url.expose_secret())
        .await
        .unwrap();
    let month: String = sqlx::query_scalar("SELECT month FROM wallet_reservations WHERE payment_id = $1")
        .bind(a.as_str())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(month, "2026-12");
    pool.close().await;
    drop(store);
    drop_database(db, &run_id).await;
}
