//! The per-wallet monthly limit: a reservation per payment, checked and taken in one
//! transaction before the payment is first sent. The reservations of a group commit are
//! checked and taken together ([`reserve_together`]), in three statements for all of them.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use super::appends::Appends;
use super::multi_row::rows_returning;
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
        let pending = PendingReservation {
            payment_id: payment_id.to_string(),
            wallet: Wallet {
                provider: provider.to_string(),
                msisdn: msisdn.to_string(),
                month: month.to_string(),
            },
            amount,
            limit,
            outcome: None,
        };
        self.writer.submit(msisdn, pending).await
    }
}

/// A wallet's month.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Wallet {
    provider: String,
    msisdn: String,
    month: String,
}

/// A reservation waiting in the group commit (see [`Store::reserve_wallet_month`]).
pub(super) struct PendingReservation {
    payment_id: String,
    wallet: Wallet,
    amount: i64,
    limit: i64,
    /// Set by [`reserve_together`] or [`PendingReservation::run`].
    pub outcome: Option<WalletReservation>,
}

impl PendingReservation {
    /// Checks and takes the reservation on its own.
    pub async fn run(&mut self, transaction: &mut AnyConnection, _appends: &mut Appends) -> Result<(), sqlx::Error> {
        let Wallet {
            provider,
            msisdn,
            month,
        } = &self.wallet;
        self.outcome = Some(
            reserve_in(
                transaction,
                &self.payment_id,
                provider,
                msisdn,
                month,
                self.amount,
                self.limit,
            )
            .await?,
        );
        Ok(())
    }
}

/// The live reservations of a batch's wallets as one statement: [`HELD_HEAD`], a [`HELD_ROW`]
/// per wallet, [`HELD_TAIL`] (see [`reserve_together`]).
pub(super) const HELD_HEAD: &str = "WITH w (provider, msisdn, month) AS (VALUES ";
pub(super) const HELD_ROW: &str = "(CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT))";
pub(super) const HELD_TAIL: &str = ") SELECT r.provider, r.msisdn, r.month, r.payment_id, r.amount FROM w \
     JOIN wallet_reservations r ON r.provider = w.provider AND r.msisdn = w.msisdn AND r.month = w.month \
     JOIN payments p ON p.payment_id = r.payment_id WHERE p.state NOT IN ('failed', 'rejected')";

/// A payment holds one reservation, for the month it is checked in. Its checks run again only
/// while nothing has been sent (a retry after a refusal or an outage), and when that is in a
/// later month, its reservation moves there: left in the month before, it would hold nothing
/// in the month the money goes, and another payment could take that month's whole limit.
macro_rules! move_to_this_month {
    () => {
        " ON CONFLICT (payment_id) DO UPDATE SET provider = excluded.provider, msisdn = excluded.msisdn, \
         month = excluded.month, amount = excluded.amount"
    };
}

/// Moves `payment_id`'s reservation, if it holds one in a month before `month`, to `month`, with
/// no check of that month's limit: the payout was sent before and goes again with the same key,
/// which a limit cannot refuse. A payout sent, and sent again in a later month (an outage, an
/// open circuit breaker, a provider with no record of it), would otherwise stay counted in the
/// month of its checks, and another payout could take the whole limit of the month its money
/// goes in. (Months are `YYYY-MM`, so they compare as text.)
pub(super) async fn move_reservation_to(
    transaction: &mut AnyConnection,
    payment_id: &str,
    month: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE wallet_reservations SET month = $1 WHERE payment_id = $2 AND month < $1")
        .bind(month)
        .bind(payment_id)
        .execute(transaction)
        .await?;
    Ok(())
}

/// The reservations of a batch, checked and taken together, each with the outcome it would
/// have had alone in the batch's order: the wallets' month rows counted in one upsert (in wallet
/// order, so that on PostgreSQL their row locks serialise the checks of one wallet by several
/// gateways, as one by one), the live reservations of those wallets read in one statement, each
/// reservation checked against them and the ones taken before it in the batch, and the taken
/// ones inserted in one statement. A second reservation of one payment in the batch is left
/// without an outcome, to be written on its own after.
pub(super) async fn reserve_together(
    transaction: &mut AnyConnection,
    reservations: Vec<&mut PendingReservation>,
) -> Result<(), sqlx::Error> {
    let mut payments = HashSet::new();
    let mut plain: Vec<&mut PendingReservation> = reservations
        .into_iter()
        .filter(|reservation| payments.insert(reservation.payment_id.clone()))
        .collect();
    let mut checks: BTreeMap<&Wallet, i64> = BTreeMap::new();
    for reservation in &plain {
        *checks.entry(&reservation.wallet).or_default() += 1;
    }
    let checks: Vec<(&Wallet, i64)> = checks.into_iter().collect();
    rows_returning(
        transaction,
        "INSERT INTO wallet_months (provider, msisdn, month, checks) VALUES ",
        "($1, $2, $3, $4)",
        " ON CONFLICT (provider, msisdn, month) DO UPDATE SET checks = wallet_months.checks + excluded.checks",
        &checks,
        |query, (wallet, count)| {
            query
                .bind(wallet.provider.as_str())
                .bind(wallet.msisdn.as_str())
                .bind(wallet.month.as_str())
                .bind(*count)
        },
    )
    .await?;
    let wallets: Vec<&Wallet> = checks.iter().map(|(wallet, _)| *wallet).collect();
    let mut held: HashMap<Wallet, Vec<(String, i64)>> = HashMap::with_capacity(wallets.len());
    for row in rows_returning(
        transaction,
        HELD_HEAD,
        HELD_ROW,
        HELD_TAIL,
        &wallets,
        |query, wallet| {
            query
                .bind(wallet.provider.as_str())
                .bind(wallet.msisdn.as_str())
                .bind(wallet.month.as_str())
        },
    )
    .await?
    {
        let wallet = Wallet {
            provider: row.try_get("provider")?,
            msisdn: row.try_get("msisdn")?,
            month: row.try_get("month")?,
        };
        held.entry(wallet)
            .or_default()
            .push((row.try_get("payment_id")?, row.try_get("amount")?));
    }
    drop(wallets);
    drop(checks);
    for reservation in &mut plain {
        let holders = held.entry(reservation.wallet.clone()).or_default();
        let already = holders
            .iter()
            .filter(|(payment_id, _)| *payment_id != reservation.payment_id)
            .fold(0_i64, |sum, (_, amount)| sum.saturating_add(*amount));
        if already.saturating_add(reservation.amount) > reservation.limit {
            reservation.outcome = Some(WalletReservation::OverLimit { already });
            continue;
        }
        if !holders
            .iter()
            .any(|(payment_id, _)| *payment_id == reservation.payment_id)
        {
            holders.push((reservation.payment_id.clone(), reservation.amount));
        }
        reservation.outcome = Some(WalletReservation::Reserved);
    }
    let taken: Vec<&PendingReservation> = plain
        .iter()
        .filter(|reservation| reservation.outcome == Some(WalletReservation::Reserved))
        .map(|reservation| &**reservation)
        .collect();
    rows_returning(
        transaction,
        "INSERT INTO wallet_reservations (payment_id, provider, msisdn, month, amount) VALUES ",
        "($1, $2, $3, $4, $5)",
        move_to_this_month!(),
        &taken,
        |query, reservation| {
            query
                .bind(reservation.payment_id.as_str())
                .bind(reservation.wallet.provider.as_str())
                .bind(reservation.wallet.msisdn.as_str())
                .bind(reservation.wallet.month.as_str())
                .bind(reservation.amount)
        },
    )
    .await?;
    Ok(())
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
    sqlx::query(concat!(
        "INSERT INTO wallet_reservations (payment_id, provider, msisdn, month, amount) VALUES ($1, $2, $3, $4, $5)",
        move_to_this_month!()
    ))
    .bind(payment_id)
    .bind(provider)
    .bind(msisdn)
    .bind(month)
    .bind(amount)
    .execute(&mut *transaction)
    .await?;
    Ok(WalletReservation::Reserved)
}
