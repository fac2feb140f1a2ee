//! Multi-row inserts: many rows in one statement, cut into chunks.
//!
//! Chunks are powers of two up to [`MAX_ROWS_PER_INSERT`], so few distinct statements reach
//! the statement cache. At six parameters a row a chunk takes 1,536, under the 32,766 of the
//! SQLite that sqlx bundles (3.32 and newer) and PostgreSQL's 65,535.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

/// The most rows one insert statement takes.
const MAX_ROWS_PER_INSERT: usize = 256;

/// A query being bound.
pub(super) type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// Inserts `rows` in order with `head` (`INSERT INTO t (a, b, …) VALUES `), each row's
/// `columns` values bound by `bind`.
pub(super) async fn insert_rows<T>(
    connection: &mut AnyConnection,
    head: &str,
    columns: usize,
    rows: &[T],
    bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
) -> Result<(), sqlx::Error> {
    for chunk in chunks(rows) {
        let mut statement = String::from(head);
        push_placeholders(&mut statement, chunk.len(), columns);
        let mut query = sqlx::query(&statement);
        for row in chunk {
            query = bind(query, row);
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// `rows` in order, cut into chunks whose sizes are powers of two up to
/// [`MAX_ROWS_PER_INSERT`].
fn chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let size = if rows.len() >= MAX_ROWS_PER_INSERT {
            MAX_ROWS_PER_INSERT
        } else {
            1 << rows.len().ilog2()
        };
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// Appends `($1, …, $columns), (…)` for `rows` rows.
fn push_placeholders(query: &mut String, rows: usize, columns: usize) {
    use std::fmt::Write;
    for row in 0..rows {
        query.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            let separator = if column == 0 { "" } else { ", " };
            let _ = write!(query, "{separator}${}", row * columns + column + 1);
        }
        query.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_in_order() {
        let rows: Vec<usize> = (0..600).collect();
        let sizes: Vec<usize> = chunks(&rows).map(<[usize]>::len).collect();
        assert_eq!(sizes, [256, 256, 64, 16, 8]);
        let again: Vec<usize> = chunks(&rows).flatten().copied().collect();
        assert_eq!(again, rows);
        assert_eq!(chunks::<u8>(&[]).count(), 0);
    }

    #[test]
    fn placeholders_number_every_row() {
        let mut query = String::new();
        push_placeholders(&mut query, 2, 3);
        assert_eq!(query, "($1, $2, $3), ($4, $5, $6)");
    }
}
