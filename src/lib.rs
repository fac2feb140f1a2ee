//! Payout gateway: payment orders from RabbitMQ to bank, VNPost and mobile-money providers,
//! paid at most once, with results and dead letters back on RabbitMQ.
//!
//! Start with [`app::RunningGateway`] for how the parts fit, and `README.md`'s Architecture
//! section for the invariants they keep.

pub mod amqp;
pub mod app;
pub mod batch;
pub mod bench;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod dispatcher;
pub mod dlq;
pub mod http;
pub mod intake;
pub mod order;
pub mod payment;
pub mod progress;
pub mod providers;
pub mod publish;
pub mod reconcile;
pub mod report;
pub mod retention;
pub mod review;
pub mod spreadsheet;
pub mod store;
pub mod supervise;
pub mod telemetry;
pub mod terminal;
pub mod vacuum;
