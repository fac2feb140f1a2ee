//! Multi-row statements: many rows in one insert (or one update from a list), cut into chunks.
//!
//! Chunks are powers of two up to [`MAX_ROWS_PER_INSERT`], so few distinct statements reach
//! the statement cache. At 13 parameters a row (a claim, the widest) a chunk takes 3,328, under
//! the 32,766 of the SQLite that sqlx bundles (3.32 and newer) and PostgreSQL's 65,535.

use sqlx::any::{AnyArguments, AnyRow};
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
    let template = plain_row(columns);
    for chunk in chunks(rows) {
        let statement = statement(head, &template, "", chunk.len());
        let mut query = sqlx::query(&statement);
        for row in chunk {
            query = bind(query, row);
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// Runs `head`, then `rows` in order, each written as `template` — a row's values with its own
/// parameters numbered from `$1`, which may repeat and sit inside expressions — then `tail`
/// (an insert's `ON CONFLICT DO NOTHING RETURNING …`, or the rest of an `UPDATE … FROM` the
/// rows), chunk by chunk, and returns every row the statements returned. The order of returned
/// rows is the database's: match them by a key.
pub(super) async fn rows_returning<T>(
    connection: &mut AnyConnection,
    head: &str,
    template: &str,
    tail: &str,
    rows: &[T],
    bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let mut returned = Vec::new();
    for chunk in chunks(rows) {
        let statement = statement(head, template, tail, chunk.len());
        let mut query = sqlx::query(&statement);
        for row in chunk {
            query = bind(query, row);
        }
        returned.extend(query.fetch_all(&mut *connection).await?);
    }
    Ok(returned)
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

/// `($1, …, $columns)`.
fn plain_row(columns: usize) -> String {
    let parameters: Vec<String> = (1..=columns).map(|n| format!("${n}")).collect();
    format!("({})", parameters.join(", "))
}

/// `head`, then `template` once per row with its parameters renumbered after the rows before
/// it, separated by commas, then `tail`.
fn statement(head: &str, template: &str, tail: &str, rows: usize) -> String {
    use std::fmt::Write;
    let per_row = parameters_in(template);
    let mut statement = String::with_capacity(head.len() + tail.len() + rows * (template.len() + 16));
    statement.push_str(head);
    for row in 0..rows {
        if row > 0 {
            statement.push_str(", ");
        }
        let mut rest = template;
        while let Some(dollar) = rest.find('$') {
            statement.push_str(&rest[..dollar]);
            let digits = rest[dollar + 1..].bytes().take_while(u8::is_ascii_digit).count();
            let number: usize = rest[dollar + 1..dollar + 1 + digits].parse().unwrap_or(0);
            let _ = write!(statement, "${}", row * per_row + number);
            rest = &rest[dollar + 1 + digits..];
        }
        statement.push_str(rest);
    }
    statement.push_str(tail);
    statement
}

/// The highest `$N` in a row template: how many parameters each row binds.
fn parameters_in(template: &str) -> usize {
    template
        .split('$')
        .skip(1)
        .filter_map(|after| {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            after[..digits].parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0)
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
        assert_eq!(
            statement("VALUES ", &plain_row(3), "", 2),
            "VALUES ($1, $2, $3), ($4, $5, $6)"
        );
    }

    #[test]
    fn a_template_row_keeps_its_repeats_and_expressions_when_renumbered() {
        let template = "($1, 'accepted', $2, $2, 1 + (SELECT COUNT(*) FROM r WHERE id = $1))";
        assert_eq!(parameters_in(template), 2);
        assert_eq!(
            statement("INSERT INTO t VALUES ", template, " RETURNING id", 2),
            "INSERT INTO t VALUES ($1, 'accepted', $2, $2, 1 + (SELECT COUNT(*) FROM r WHERE id = $1)), \
             ($3, 'accepted', $4, $4, 1 + (SELECT COUNT(*) FROM r WHERE id = $3)) RETURNING id"
        );
    }
}
