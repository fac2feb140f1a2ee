//! Multi-row statements: many rows in one insert (or one update from a list), cut into chunks.
//!
//! Chunks are powers of two up to [`MAX_ROWS_PER_INSERT`], so few distinct statements reach
//! the statement cache. At 13 parameters a row (a claim, a state change: the widest) a chunk
//! takes 3,328, under the 32,766 of the SQLite that sqlx bundles (3.32 and newer) and
//! PostgreSQL's 65,535.
//!
//! On SQLite the parameters are written `?`, not `$N`: SQLite keeps named parameters (`$N` is
//! one) in a list that it scans from the start on every lookup, and sqlx looks up each
//! parameter's name when it binds, so a chunk of 4,096 `$N` costs millions of steps to bind —
//! 9% of the gateway's CPU in a profile. `?` parameters have no name and bind in order, which
//! asks of a row template that it uses each of its parameters once, in order (checked).

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use super::Backend;

/// The most rows one insert statement takes.
const MAX_ROWS_PER_INSERT: usize = 256;

/// A query being bound.
pub(super) type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// Inserts `rows` in order with `head` (`INSERT INTO t (a, b, …) VALUES `), each row written
/// as `template` (see [`rows_returning`]; [`plain_row`] for plain values) and bound by `bind`.
pub(super) async fn insert_rows<T>(
    connection: &mut AnyConnection,
    head: &str,
    template: &str,
    rows: &[T],
    bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
) -> Result<(), sqlx::Error> {
    let style = Placeholders::of(connection, template);
    for chunk in chunks(rows) {
        let statement = statement(head, template, "", chunk.len(), style);
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
    let style = Placeholders::of(connection, template);
    for chunk in chunks(rows) {
        let statement = statement(head, template, tail, chunk.len(), style);
        let mut query = sqlx::query(&statement);
        for row in chunk {
            query = bind(query, row);
        }
        returned.extend(query.fetch_all(&mut *connection).await?);
    }
    Ok(returned)
}

/// The parameters of an `IN (…)` list of `count` values that follow `after` parameters of
/// the statement: `$after+1, …` — or `?, …` on SQLite when none come before (a `$N` before a
/// `?` would make sqlx bind the `?` from the start again).
pub(super) fn parameter_list(connection: &AnyConnection, after: usize, count: usize) -> String {
    let style = if after == 0 {
        Placeholders::of(connection, "($1)")
    } else {
        Placeholders::Numbered
    };
    let mut list = String::with_capacity(count * 6);
    for n in 1..=count {
        if n > 1 {
            list.push_str(", ");
        }
        match style {
            Placeholders::Anonymous => list.push('?'),
            Placeholders::Numbered => {
                use std::fmt::Write;
                let _ = write!(list, "${}", after + n);
            }
        }
    }
    list
}

/// How a statement's parameters are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placeholders {
    /// `$1`, `$2`, …: PostgreSQL's only form, and any template's.
    Numbered,
    /// `?` each: SQLite, for a template that uses its parameters once each, in order.
    Anonymous,
}

impl Placeholders {
    /// Anonymous on SQLite when `template` allows it, numbered otherwise.
    fn of(connection: &AnyConnection, template: &str) -> Self {
        if Backend::of(connection) == Backend::Sqlite && in_order_once(template) {
            Placeholders::Anonymous
        } else {
            Placeholders::Numbered
        }
    }
}

/// The statement [`rows_returning`] runs on PostgreSQL for a chunk of `rows` rows (for tests
/// that read its plan).
#[cfg(test)]
pub(super) fn postgres_statement(head: &str, template: &str, tail: &str, rows: usize) -> String {
    statement(head, template, tail, rows, Placeholders::Numbered)
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
pub(super) fn plain_row(columns: usize) -> String {
    let parameters: Vec<String> = (1..=columns).map(|n| format!("${n}")).collect();
    format!("({})", parameters.join(", "))
}

/// `head`, then `template` once per row with its parameters renumbered after the rows before
/// it (or written `?`), separated by commas, then `tail`.
fn statement(head: &str, template: &str, tail: &str, rows: usize, style: Placeholders) -> String {
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
            let Ok(number) = rest[dollar + 1..dollar + 1 + digits].parse::<usize>() else {
                // A `$` that is not a parameter (in a string, say) stays as it is.
                statement.push('$');
                rest = &rest[dollar + 1..];
                continue;
            };
            match style {
                Placeholders::Numbered => {
                    let _ = write!(statement, "${}", row * per_row + number);
                }
                Placeholders::Anonymous => statement.push('?'),
            }
            rest = &rest[dollar + 1 + digits..];
        }
        statement.push_str(rest);
    }
    statement.push_str(tail);
    statement
}

/// The highest `$N` in a row template: how many parameters each row binds.
fn parameters_in(template: &str) -> usize {
    numbers_in(template).max().unwrap_or(0)
}

/// Whether a row template's parameters are `$1`, `$2`, … `$k`, each once and in that order.
fn in_order_once(template: &str) -> bool {
    numbers_in(template).eq(1..=parameters_in(template))
}

/// The numbers of a template's `$N`, in the order they appear.
fn numbers_in(template: &str) -> impl Iterator<Item = usize> + '_ {
    template.split('$').skip(1).filter_map(|after| {
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        after[..digits].parse::<usize>().ok()
    })
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
            statement("VALUES ", &plain_row(3), "", 2, Placeholders::Numbered),
            "VALUES ($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(
            statement("VALUES ", &plain_row(3), "", 2, Placeholders::Anonymous),
            "VALUES (?, ?, ?), (?, ?, ?)"
        );
    }

    #[test]
    fn a_template_row_keeps_its_repeats_and_expressions_when_renumbered() {
        let template = "($1, 'accepted', $2, $2, 1 + (SELECT COUNT(*) FROM r WHERE id = $1))";
        assert_eq!(parameters_in(template), 2);
        assert_eq!(
            statement(
                "INSERT INTO t VALUES ",
                template,
                " RETURNING id",
                2,
                Placeholders::Numbered
            ),
            "INSERT INTO t VALUES ($1, 'accepted', $2, $2, 1 + (SELECT COUNT(*) FROM r WHERE id = $1)), \
             ($3, 'accepted', $4, $4, 1 + (SELECT COUNT(*) FROM r WHERE id = $3)) RETURNING id"
        );
    }

    #[test]
    fn a_dollar_that_is_not_a_parameter_is_kept() {
        let template = "($1, 'US$', $2)";
        assert_eq!(
            statement("VALUES ", template, "", 2, Placeholders::Numbered),
            "VALUES ($1, 'US$', $2), ($3, 'US$', $4)"
        );
        assert_eq!(
            statement("VALUES ", template, "", 2, Placeholders::Anonymous),
            "VALUES (?, 'US$', ?), (?, 'US$', ?)"
        );
    }

    #[test]
    fn only_a_template_that_takes_its_parameters_once_in_order_may_go_anonymous() {
        assert!(!in_order_once("($1, $2, 'x', CAST($3 AS TEXT), $10)"));
        assert!(in_order_once("($1, $2, 'x', CAST($3 AS TEXT))"));
        assert!(!in_order_once("($1, $2, $2)"));
        assert!(!in_order_once("($2, $1)"));
        assert!(in_order_once("('constant')"));
    }
}
