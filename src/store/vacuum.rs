//! Vacuuming the gateway's busy tables on a PostgreSQL server that does not do it itself.

use super::{Backend, Store};

/// The tables every order updates or appends to; their dead row versions are what slows the
/// leases down when nothing vacuums them.
const BUSY_TABLES: &str = "payments, outbox, outbox_waiting, payment_events, callback_events, beneficiary_periods, \
     wallet_months, wallet_reservations, batches";

impl Store {
    /// Whether this is PostgreSQL with `autovacuum` off, so that nothing cleans dead row
    /// versions up unless the gateway does.
    pub async fn needs_own_vacuum(&self) -> Result<bool, sqlx::Error> {
        if self.backend() != Backend::Postgres {
            return Ok(false);
        }
        let setting: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
            .fetch_one(self.pool())
            .await?;
        Ok(setting == "off")
    }

    /// `VACUUM (ANALYZE)` of the busy tables, skipping any another session holds (another
    /// gateway vacuuming it). PostgreSQL only.
    pub async fn vacuum_busy_tables(&self) -> Result<(), sqlx::Error> {
        sqlx::query(&format!("VACUUM (ANALYZE, SKIP_LOCKED) {BUSY_TABLES}"))
            .execute(self.pool())
            .await
            .map(|_| ())
    }
}
