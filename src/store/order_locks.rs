//! Two gateways on PostgreSQL take turns on one order id: a batch locks the order ids it claims
//! or rejects before it writes anything.
//!
//! A rejection looks for a payment under the order id, and a claim numbers its first result
//! after the rejections it finds. Under read committed, two gateways doing one each at the same
//! moment would each miss the other's uncommitted row, and upstream would get `rejected` and
//! `accepted` both as `<order_id>:1` for an order that is being paid. One gateway routes both by
//! the order id to one writer, and SQLite has one writer, so only PostgreSQL with several
//! gateways needs this: a transaction-scoped advisory lock per order id, which writes nothing
//! to the WAL and ends with the commit or rollback. A batch takes all of its locks first, in
//! one statement, in key order, so two batches that share order ids take them in the same
//! order and cannot deadlock on them; after that it takes no other advisory lock.

use sqlx::AnyConnection;

use super::Backend;

/// The first key of the gateway's order locks (`pg_advisory_xact_lock(int4, int4)`), "ORDR":
/// the two-key form's space does not overlap the one-key form that sqlx's migrations lock in.
pub const ORDER_LOCK_CLASS: i32 = 0x4f52_4452;

/// The second key of an order id's lock: a stable hash (FNV-1a, folded to 32 bits), the same in
/// every gateway and every release. Two order ids with one key only wait for each other.
pub fn order_lock_key(order_id: &str) -> i32 {
    let hash = fnv1a(order_id);
    // Both halves, so that every byte of the id moves the key; the cast keeps the bits.
    ((hash >> 32) ^ (hash & 0xffff_ffff)) as u32 as i32
}

/// A stable 64-bit hash of `key` (FNV-1a), the same on every machine and in every release.
pub(super) fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Locks `order_ids` until the transaction on `connection` ends (PostgreSQL; nothing on SQLite,
/// whose one writer serialises them). Call it first in a transaction, once.
pub(super) async fn lock_orders<'a>(
    connection: &mut AnyConnection,
    order_ids: impl Iterator<Item = &'a str>,
) -> Result<(), sqlx::Error> {
    if Backend::of(connection) != Backend::Postgres {
        return Ok(());
    }
    let mut keys: Vec<i32> = order_ids.filter(|id| !id.is_empty()).map(order_lock_key).collect();
    if keys.is_empty() {
        return Ok(());
    }
    keys.sort_unstable();
    keys.dedup();
    sqlx::query(&lock_statement(&keys)).execute(connection).await?;
    Ok(())
}

/// One statement taking every lock in `keys`' order: a row per key from `VALUES`, in the order
/// written, each row's lock taken as the row is produced. The keys are integers the gateway
/// computed, so they are written into the statement rather than bound.
fn lock_statement(keys: &[i32]) -> String {
    let rows: Vec<String> = keys.iter().map(|key| format!("({key})")).collect();
    format!(
        "SELECT pg_advisory_xact_lock({ORDER_LOCK_CLASS}, key) FROM (VALUES {}) AS keys(key)",
        rows.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_ids_key_is_stable_and_every_byte_moves_it() {
        // Pinned: gateways of two releases must lock one order id under one key.
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(order_lock_key("a"), (0xaf63_dc4c_u32 ^ 0x8601_ec8c_u32) as i32);
        assert_ne!(order_lock_key("TB-2026-12-0001"), order_lock_key("TB-2026-12-0002"));
        assert_ne!(order_lock_key("xTB-2026-12-0001"), order_lock_key("yTB-2026-12-0001"));
    }

    #[test]
    fn the_statement_takes_the_locks_in_the_order_given() {
        assert_eq!(
            lock_statement(&[-7, 3, 40]),
            "SELECT pg_advisory_xact_lock(1330791506, key) FROM (VALUES (-7), (3), (40)) AS keys(key)"
        );
    }
}
