//! Reads for `gateway report`: the payments of one period (and batch), one row each with what
//! the report adds up — commune, program, channel, state, amount, reason, claim and credit
//! times, and whether reconciliation recorded a provider return (`reconciliation_items`) —
//! and no personal data (program and period are read from the stored order in SQL).

use futures_lite::StreamExt;
use sqlx::Row;

use super::{state_column, Backend, Store};
use crate::payment::PaymentState;

/// Which payments the report covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFilter {
    /// The orders' `period`, `YYYY-MM`.
    pub period: String,
    pub batch_id: Option<String>,
}

/// One payment as the report reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    pub payment_id: String,
    pub commune_code: String,
    pub program: String,
    pub channel: String,
    pub state: PaymentState,
    pub amount: i64,
    pub reason_code: Option<String>,
    /// When the gateway claimed the order (ms since 1970).
    pub claimed_at: i64,
    /// When it first became `succeeded`, from the event log.
    pub credited_at: Option<i64>,
    /// Reconciliation found the credit sent back by the provider.
    pub returned: bool,
    /// The provider's reason for the return (ISO 20022, e.g. `AC04`), when it gave one.
    pub return_reason_code: Option<String>,
}

/// Payments `p` with their stored orders `o`.
const PAYMENTS_WITH_ORDERS: &str =
    "payments p JOIN payment_orders o ON o.created_at = p.created_at AND o.payment_id = p.payment_id";

impl Store {
    /// How many payments the filter matches, to show progress against.
    pub async fn report_count(&self, filter: &ReportFilter) -> Result<i64, sqlx::Error> {
        let (conditions, values) = self.report_conditions(filter);
        let sql = format!("SELECT COUNT(*) AS n FROM {PAYMENTS_WITH_ORDERS} WHERE {conditions}");
        let mut query = sqlx::query(&sql);
        for value in values {
            query = query.bind(value);
        }
        query.fetch_one(self.pool()).await?.try_get("n")
    }

    /// How many payments of the filter's batch belong to other periods than its own (an
    /// arrears order in a month's list, say): left out of a report of one period and one
    /// batch, so the report says so rather than drop them without a word. 0 without a batch.
    pub async fn report_batch_elsewhere(&self, filter: &ReportFilter) -> Result<i64, sqlx::Error> {
        let Some(batch_id) = &filter.batch_id else {
            return Ok(0);
        };
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {PAYMENTS_WITH_ORDERS} WHERE p.batch_id = $1 AND {} <> $2",
            self.order_field("period")
        );
        sqlx::query(&sql)
            .bind(batch_id)
            .bind(&filter.period)
            .fetch_one(self.pool())
            .await?
            .try_get("n")
    }

    /// Every payment the filter matches, streamed; `progress` is called with the number read
    /// so far every 1,000 rows and at the end.
    pub async fn report_rows(
        &self,
        filter: &ReportFilter,
        mut progress: impl FnMut(u64),
    ) -> Result<Vec<ReportRow>, sqlx::Error> {
        let (conditions, values) = self.report_conditions(filter);
        let program = self.order_field("program");
        let sql = format!(
            "SELECT p.payment_id, p.commune_code, COALESCE({program}, '') AS program, p.channel, p.state, p.amount, \
             p.reason_code, p.created_at, (SELECT MIN(e.occurred_at) FROM payment_events e \
             WHERE e.payment_created_at = p.created_at AND e.payment_id = p.payment_id AND e.to_state = 'succeeded') AS credited_at, \
             r.payment_id AS returned_payment_id, r.reason_code AS return_reason_code \
             FROM {PAYMENTS_WITH_ORDERS} LEFT JOIN reconciliation_items r ON r.payment_id = p.payment_id AND r.kind = 'returned' \
             WHERE {conditions} ORDER BY p.commune_code, p.payment_id"
        );
        let mut query = sqlx::query(&sql);
        for value in values {
            query = query.bind(value);
        }
        let mut rows = Vec::new();
        let mut stream = query.fetch(self.pool());
        while let Some(row) = stream.next().await {
            let row = row?;
            rows.push(ReportRow {
                payment_id: row.try_get("payment_id")?,
                commune_code: row.try_get("commune_code")?,
                program: row.try_get("program")?,
                channel: row.try_get("channel")?,
                state: state_column(&row, "state")?,
                amount: row.try_get("amount")?,
                reason_code: row.try_get("reason_code")?,
                claimed_at: row.try_get("created_at")?,
                credited_at: row.try_get("credited_at")?,
                returned: row.try_get::<Option<String>, _>("returned_payment_id")?.is_some(),
                return_reason_code: row.try_get("return_reason_code")?,
            });
            if rows.len() % 1_000 == 0 {
                progress(rows.len() as u64);
            }
        }
        progress(rows.len() as u64);
        Ok(rows)
    }

    /// A text field of the stored order, extracted by the database.
    fn order_field(&self, field: &str) -> String {
        match self.backend() {
            Backend::Sqlite => format!("json_extract(o.order_json, '$.{field}')"),
            Backend::Postgres => format!("(CAST(o.order_json AS json) ->> '{field}')"),
        }
    }

    fn report_conditions(&self, filter: &ReportFilter) -> (String, Vec<String>) {
        let mut conditions = vec![format!("{} = $1", self.order_field("period"))];
        let mut values = vec![filter.period.clone()];
        if let Some(batch_id) = &filter.batch_id {
            values.push(batch_id.clone());
            conditions.push(format!("p.batch_id = ${}", values.len()));
        }
        (conditions.join(" AND "), values)
    }
}
