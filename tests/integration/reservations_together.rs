//! The wallet reservations of one group commit are checked and taken together (one upsert of
//! the wallets' month rows, one read of their live reservations, one insert): each still gets
//! the outcome it would have had alone in the batch's order — a reservation counts the ones
//! taken before it in the batch, one over the limit is refused and takes nothing, a payment's
//! own reservation is never counted twice, and a second reservation of one payment sees the
//! first.

use gateway::store::{StoreError, WalletReservation};
use secrecy::ExposeSecret;

use crate::support::{all_at_once, claim_fresh, drop_database, store_for_one_batch, wallet_order, Db};

#[tokio::test]
async fn sqlite_reservations_of_one_batch_get_the_outcomes_they_would_get_alone() {
    reservations_of_one_batch_get_the_outcomes_they_would_get_alone(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_reservations_of_one_batch_get_the_outcomes_they_would_get_alone() {
    reservations_of_one_batch_get_the_outcomes_they_would_get_alone(Db::Postgres).await;
}

const PROVIDER: &str = "mobile_money_test";
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
    let digits: String = run_id
        .bytes()
        .take(7)
        .map(|byte| char::from(b'0' + byte % 10))
        .collect();
    let (wallet, other_wallet) = (format!("+8491{digits}"), format!("+8492{digits}"));
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
