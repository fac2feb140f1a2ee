//! The per-wallet monthly limit: a reservation per payment, checked and taken in one
//! transaction before the payment is first sent.

use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};

/// What the reservation found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalletReservation {
    /// Reserved (or already reserved by this payment): it may be sent.
    Reserved,
    /// The wallet's month would go over the limit; `already` đồng are reserved by others.
    OverLimit { already: i64 },
}

impl Store {
    /// Reserves `amount` of `msisdn`'s `month` at `provider` for `payment_id`, unless the
    /// other live reservations plus this one would exceed `limit`. Idempotent: a payment's
    /// own reservation is never counted twice. The `wallet_months` row is updated first so
    /// that two gateways reserving for the same wallet at once are serialised on it.
    pub async fn reserve_wallet_month(
        &self,
        payment_id: &str,
        provider: &str,
        msisdn: &str,
        month: &str,
        amount: i64,
        limit: i64,
    ) -> Result<WalletReservation, StoreError> {
        let keys = std::sync::Arc::new((
            payment_id.to_string(),
            provider.to_string(),
            msisdn.to_string(),
            month.to_string(),
        ));
        self.write(msisdn, move |connection, _| {
            let keys = keys.clone();
            Box::pin(async move {
                let (payment_id, provider, msisdn, month) = &*keys;
                reserve_in(connection, payment_id, provider, msisdn, month, amount, limit).await
            })
        })
        .await
    }
}

/// The reservation inside a transaction (see [`Store::reserve_wallet_month`]).
async fn reserve_in(
    transaction: &mut AnyConnection,
    payment_id: &str,
    provider: &str,
    msisdn: &str,
    month: &str,
    amount: i64,
    limit: i64,
) -> Result<WalletReservation, sqlx::Error> {
    // The wallet's month row, counted: on PostgreSQL its row lock serialises concurrent checks
    // of one wallet by several gateways.
    sqlx::query(
        "INSERT INTO wallet_months (provider, msisdn, month, checks) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (provider, msisdn, month) DO UPDATE SET checks = wallet_months.checks + 1",
    )
    .bind(provider)
    .bind(msisdn)
    .bind(month)
    .execute(&mut *transaction)
    .await?;
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(r.amount), 0) AS BIGINT) AS total FROM wallet_reservations r \
             JOIN payments p ON p.payment_id = r.payment_id \
             WHERE r.provider = $1 AND r.msisdn = $2 AND r.month = $3 AND r.payment_id <> $4 \
             AND p.state NOT IN ('failed', 'rejected')",
    )
    .bind(provider)
    .bind(msisdn)
    .bind(month)
    .bind(payment_id)
    .fetch_one(&mut *transaction)
    .await?;
    let already: i64 = row.try_get("total")?;
    if already.saturating_add(amount) > limit {
        // Only the wallet_months row and its check counter were written (they serialise the
        // next check); no reservation is taken.
        return Ok(WalletReservation::OverLimit { already });
    }
    sqlx::query(
        "INSERT INTO wallet_reservations (payment_id, provider, msisdn, month, amount) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
    )
    .bind(payment_id)
    .bind(provider)
    .bind(msisdn)
    .bind(month)
    .bind(amount)
    .execute(&mut *transaction)
    .await?;
    Ok(WalletReservation::Reserved)
}
