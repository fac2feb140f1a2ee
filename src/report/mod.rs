//! `gateway report`: what happened to a period's payouts, per commune, program and channel —
//! counts and amounts paid, failed, pending, needs-review, returned and rejected, the time
//! from order to credit, and the reasons for failures — as CSV files and one HTML page.
//!
//! The work is split so that everything but the reading is pure and tested here:
//! `Store::report_rows` (`src/store/report.rs`) reads, [`aggregate`] adds up, [`csv_files`]
//! and [`html`] (with the charts of [`svg`]) write; [`build`] puts them together and
//! `src/cli/report.rs` runs it.

pub mod aggregate;
pub mod build;
pub mod communes;
pub mod csv_files;
pub mod format;
pub mod html;
pub mod svg;

pub use aggregate::{aggregate, Figures, GroupKey, Outcome, PaymentFact, ReasonLine, Report};
pub use build::{elsewhere_note, write_report, Written};
pub use communes::CommuneNames;

/// What the report covers, for its headings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The orders' `period` (`YYYY-MM`).
    pub period: String,
    /// Only this batch, when given.
    pub batch_id: Option<String>,
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
}
