//! Reads for ops: payments counted by state and channel, with their amounts (the dashboard), and
//! the payments not final yet counted by provider (start-up).

use sqlx::Row;

use super::Store;

/// Payments in one state on one channel.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StateChannelCount {
    pub state: String,
    pub channel: String,
    pub count: i64,
    /// Whole đồng.
    pub amount: i64,
}

impl Store {
    /// Every (state, channel) pair that has payments, sorted by state then channel.
    pub async fn count_by_state_and_channel(&self) -> Result<Vec<StateChannelCount>, sqlx::Error> {
        // PostgreSQL sums BIGINT as NUMERIC; the cast keeps one integer type on both backends.
        sqlx::query(
            "SELECT state, channel, COUNT(*) AS n, COALESCE(CAST(SUM(amount) AS BIGINT), 0) AS total \
             FROM payments GROUP BY state, channel ORDER BY state, channel",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            Ok(StateChannelCount {
                state: row.try_get("state")?,
                channel: row.try_get("channel")?,
                count: row.try_get("n")?,
                amount: row.try_get("total")?,
            })
        })
        .collect()
    }

    /// The payments not final yet, counted by the provider that pays them, sorted by provider.
    pub async fn unfinished_by_provider(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT provider, COUNT(*) FROM payments WHERE state NOT IN ('succeeded', 'failed', 'rejected') \
             GROUP BY provider ORDER BY provider",
        )
        .fetch_all(self.pool())
        .await
    }
}
