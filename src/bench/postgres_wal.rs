//! What the PostgreSQL server wrote to its write-ahead log over a run: the distance its WAL
//! insert position moved (`pg_current_wal_insert_lsn()`), in bytes. Every heap insert, update,
//! row lock and index entry is written there, so the server's work per order shows as a count
//! that does not drift with the machine's speed the way its CPU does (one index fewer on
//! `payments` was 5% fewer bytes per order, where the CPU could not tell). Read from the
//! position rather than `pg_stat_wal`, whose counters a backend reports only now and then.
//! Server-wide, like `postgres_cpu_ms_per_order`; checkpoints' full-page images included.

use sqlx::Connection;

/// A position in the server's WAL, in bytes from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalPosition(u64);

impl WalPosition {
    /// The server's insert position now; `None` when it cannot be reached.
    pub async fn read(admin_url: &str) -> Option<Self> {
        let mut connection = sqlx::PgConnection::connect(admin_url).await.ok()?;
        let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::TEXT")
            .fetch_one(&mut connection)
            .await
            .ok()?;
        let _ = connection.close().await;
        Self::parse(&lsn)
    }

    /// `X/Y`, two hexadecimal halves of 32 bits each.
    fn parse(lsn: &str) -> Option<Self> {
        let (high, low) = lsn.split_once('/')?;
        let high = u64::from_str_radix(high, 16).ok()?;
        let low = u64::from_str_radix(low, 16).ok()?;
        (low <= u64::from(u32::MAX)).then_some(Self((high << 32) | low))
    }

    /// Bytes written from `before` to `self`.
    pub fn bytes_since(self, before: Self) -> u64 {
        self.0.saturating_sub(before.0)
    }

    /// The `key=value` figure per order for `bytes` (`n/a` without a reading or orders).
    pub fn per_order(bytes: Option<u64>, orders: usize) -> (&'static str, String) {
        let figure = match bytes {
            Some(bytes) if orders > 0 => format!("{:.2}", bytes as f64 / 1024.0 / orders as f64),
            _ => "n/a".to_string(),
        };
        ("postgres_wal_kib_per_order", figure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_is_read_from_its_two_halves_and_nothing_else() {
        assert_eq!(WalPosition::parse("0/9E687178"), Some(WalPosition(0x9E68_7178)));
        assert_eq!(WalPosition::parse("1/0"), Some(WalPosition(1 << 32)));
        assert_eq!(WalPosition::parse("9E687178"), None);
        assert_eq!(WalPosition::parse("0/1FFFFFFFF"), None);
        assert_eq!(WalPosition::parse("0/xyz"), None);
    }

    #[test]
    fn the_bytes_between_two_positions_are_divided_by_the_orders() {
        let before = WalPosition::parse("0/A0000000").expect("a position");
        let after = WalPosition::parse("0/A0640000").expect("a position");
        let bytes = after.bytes_since(before);
        assert_eq!(bytes, 100 * 65_536);
        assert_eq!(
            WalPosition::per_order(Some(bytes), 100),
            ("postgres_wal_kib_per_order", "64.00".to_string())
        );
        assert_eq!(WalPosition::per_order(None, 100).1, "n/a");
        assert_eq!(WalPosition::per_order(Some(bytes), 0).1, "n/a");
        assert_eq!(before.bytes_since(after), 0, "never negative");
    }
}
