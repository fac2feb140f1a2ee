//! Integration tests: the gateway against a real RabbitMQ, a real database (SQLite and
//! PostgreSQL) and the provider sandbox over HTTP.
#![allow(clippy::unwrap_used)]

mod support;

mod acks;
mod bank_flow;
mod batches;
mod bench;
mod broker;
mod browser;
mod callbacks;
mod changes_together;
mod channels;
mod claims_together;
mod crash;
mod dashboard;
mod demo;
mod dlq;
mod https_callbacks;
mod intake_edges;
mod invalid_orders;
mod lease_loop;
mod outcomes;
mod protection;
mod provider_text;
mod publish_cut;
mod reconcile;
mod relay;
mod relay_stop;
mod report;
mod reservations_together;
mod returns;
mod review;
mod routing;
mod scale_out;
mod stepwise;
mod store_outage;
mod upgrade;

/// One `#[tokio::test]` (attributes as written) whose body runs under
/// [`support::bounded`], named by its module path, so that a hang fails it by name.
#[macro_export]
macro_rules! bounded_test {
    ($(#[$attribute:meta])* async fn $test:ident() $body:block) => {
        $(#[$attribute])*
        async fn $test() {
            $crate::support::bounded(concat!(module_path!(), "::", stringify!($test)), async $body).await
        }
    };
}

/// Runs one async scenario `fn(Db)` as two tests, on SQLite and on PostgreSQL, each under
/// [`support::bounded`]; on a two-thread runtime, or on a current-thread one when the list
/// starts with `current_thread:` (for scenarios that rely on what one thread runs first, such
/// as several writes queued before the store's writer takes them as one batch).
#[macro_export]
macro_rules! on_both_databases {
    (current_thread: $($scenario:ident),* $(,)?) => {
        $crate::on_both_databases!(@runtime () $($scenario),*);
    };
    ($($scenario:ident),* $(,)?) => {
        $crate::on_both_databases!(@runtime (flavor = "multi_thread", worker_threads = 2) $($scenario),*);
    };
    (@runtime $runtime:tt $($scenario:ident),*) => {
        mod sqlite {
            $(
                #[tokio::test $runtime]
                async fn $scenario() {
                    $crate::support::bounded(
                        concat!(module_path!(), "::", stringify!($scenario)),
                        super::$scenario($crate::support::Db::Sqlite),
                    )
                    .await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test $runtime]
                async fn $scenario() {
                    $crate::support::bounded(
                        concat!(module_path!(), "::", stringify!($scenario)),
                        super::$scenario($crate::support::Db::Postgres),
                    )
                    .await
                }
            )*
        }
    };
}
