//! Provider-independent parts of the payout-provider emulator, shared by the bank, VNPost and
//! mobile-money sandboxes.
//!
//! A provider emulation holds a [`SharedKit`]: it books credits in the [`Ledger`] (which
//! enforces idempotency and is the test oracle for "paid at most once"), looks accounts up
//! in the [`Directory`], asks its [`FaultState`] which fault to inject, and sends callbacks
//! through the [`CallbackSender`]. [`admin_router`] exposes the kit over HTTP for tests and
//! the `demo` command.

pub mod admin;
pub mod callback;
pub mod directory;
pub mod emulation;
pub mod faults;
pub mod ledger;
pub mod statement;

pub use admin::{admin_router, LedgerReport, SandboxKit, SharedKit, ARRIVALS_KEPT};
pub use callback::{Callback, CallbackSender, CallbackStats, Sealed};
pub use directory::{Directory, RegisteredAccount, Registration};
pub use emulation::{Emulation, EmulationError};
pub use faults::{FaultState, Faults, SubmitRejection};
pub use ledger::{BookOutcome, Fingerprint, Ledger, LedgerEntry, LedgerStatus};
pub use statement::{Statement, StatementEntry, StatementFaults, StatementWriter, Statements};
