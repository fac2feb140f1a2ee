//! The sandbox's shared state and its admin API: read the ledger, set faults, register
//! accounts, reset. Tests and the `demo` command drive the emulated providers through it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;

use crate::callback::{CallbackSender, CallbackStats};
use crate::directory::{Directory, Registration};
use crate::faults::{FaultState, Faults};
use crate::ledger::{Ledger, LedgerEntry};

/// Everything the provider emulations share: one ledger (so "paid at most once" is checked
/// across channels), one account directory, faults per provider and one callback sender.
#[derive(Debug, Default)]
pub struct SandboxKit {
    pub ledger: Ledger,
    pub directory: Directory,
    pub callbacks: CallbackSender,
    faults: Mutex<HashMap<String, Arc<FaultState>>>,
    /// Each provider's statement writer and statement faults (`GET /sandbox/statements/{provider}`).
    pub statements: crate::statement::Statements,
    /// When the latest requests reached each provider emulation that notes arrivals, oldest
    /// first, and how many arrived in all: what a test measures a rate limit against.
    arrivals: Mutex<HashMap<String, Arrivals>>,
}

/// How many arrivals per provider [`SandboxKit::arrivals`] keeps: far more than a test that
/// measures a rate or a concurrency sends, and a bounded memory for a run of any length (the
/// benchmark sends hundreds of thousands of requests through the sandbox).
pub const ARRIVALS_KEPT: usize = 4_096;

/// One provider's latest arrivals (at most [`ARRIVALS_KEPT`]) and its total count.
#[derive(Debug, Default)]
struct Arrivals {
    latest: VecDeque<Instant>,
    total: u64,
}

/// The kit as handlers hold it.
pub type SharedKit = Arc<SandboxKit>;

impl SandboxKit {
    /// A fresh kit, ready to share between the provider routers and the admin router.
    pub fn shared() -> SharedKit {
        Arc::new(Self::default())
    }

    /// The live faults of `provider` (no faults until someone sets them).
    pub fn faults(&self, provider: &str) -> Arc<FaultState> {
        let mut map = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(provider.to_string()).or_default().clone()
    }

    /// Replaces every fault of `provider`.
    pub fn set_faults(&self, provider: &str, faults: Faults) {
        self.faults(provider).replace(faults);
    }

    /// Notes that a request reached `provider`, now; forgets the oldest arrival beyond
    /// [`ARRIVALS_KEPT`].
    pub fn note_arrival(&self, provider: &str) {
        let now = Instant::now();
        let mut map = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        let arrivals = match map.get_mut(provider) {
            Some(arrivals) => arrivals,
            None => map.entry(provider.to_string()).or_default(),
        };
        if arrivals.latest.len() == ARRIVALS_KEPT {
            arrivals.latest.pop_front();
        }
        arrivals.latest.push_back(now);
        arrivals.total += 1;
    }

    /// When the latest requests noted for `provider` arrived (at most [`ARRIVALS_KEPT`]),
    /// oldest first.
    pub fn arrivals(&self, provider: &str) -> Vec<Instant> {
        let map = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        map.get(provider)
            .map(|arrivals| arrivals.latest.iter().copied().collect())
            .unwrap_or_default()
    }

    /// How many requests were noted for `provider` since the kit was made or reset, the
    /// forgotten ones included: what "nothing more reached the provider" compares.
    pub fn arrival_count(&self, provider: &str) -> u64 {
        let map = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        map.get(provider).map_or(0, |arrivals| arrivals.total)
    }

    /// Forgets the ledger, the callback counts and every fault; registered accounts stay,
    /// because they are the world the test set up, not state the run produced.
    pub fn reset(&self) {
        self.ledger.clear();
        self.statements.clear_faults();
        self.callbacks.reset_stats();
        self.arrivals.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let map = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        for state in map.values() {
            state.replace(Faults::default());
        }
    }
}

/// The answer of `GET /sandbox/ledger`.
#[derive(Debug, Serialize)]
pub struct LedgerReport {
    /// Every booked credit, oldest first.
    pub entries: Vec<LedgerEntry>,
    /// Completed credits per upstream order; a value above 1 is a double payment.
    pub credits_by_order: BTreeMap<String, usize>,
    /// What the callback sender did.
    pub callbacks: CallbackStats,
}

/// The admin routes, with the kit as state:
/// `GET /sandbox/ledger`, `PUT /sandbox/faults/{provider}`, `POST /sandbox/accounts`
/// (a JSON array of [`Registration`]: a `RegisteredAccount` with an optional `bin`),
/// `POST /sandbox/reset`, and the statements:
/// `GET /sandbox/statements/{provider}?date=`, `PUT /sandbox/statement-faults/{provider}`.
pub fn admin_router(kit: SharedKit) -> Router {
    Router::new()
        .route("/sandbox/ledger", get(ledger))
        .route("/sandbox/faults/{provider}", put(set_faults).get(get_faults))
        .route("/sandbox/accounts", post(register_accounts))
        .route("/sandbox/reset", post(reset))
        .route(
            "/sandbox/statements/{provider}",
            get(crate::statement::routes::statement),
        )
        .route(
            "/sandbox/statement-faults/{provider}",
            put(crate::statement::routes::set_faults).get(crate::statement::routes::get_faults),
        )
        .with_state(kit)
}

async fn ledger(State(kit): State<SharedKit>) -> Json<LedgerReport> {
    Json(LedgerReport {
        entries: kit.ledger.entries(),
        credits_by_order: kit.ledger.credits_by_order(),
        callbacks: kit.callbacks.stats(),
    })
}

async fn set_faults(
    State(kit): State<SharedKit>,
    Path(provider): Path<String>,
    Json(faults): Json<Faults>,
) -> Json<Faults> {
    kit.set_faults(&provider, faults);
    Json(kit.faults(&provider).snapshot())
}

async fn get_faults(State(kit): State<SharedKit>, Path(provider): Path<String>) -> Json<Faults> {
    Json(kit.faults(&provider).snapshot())
}

async fn register_accounts(State(kit): State<SharedKit>, Json(accounts): Json<Vec<Registration>>) -> StatusCode {
    kit.directory.register(accounts);
    StatusCode::NO_CONTENT
}

async fn reset(State(kit): State<SharedKit>) -> StatusCode {
    kit.reset();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::RegisteredAccount;

    #[test]
    fn reset_clears_the_ledger_and_faults_but_keeps_accounts() {
        let kit = SandboxKit::shared();
        kit.set_faults(
            "bank_transfer",
            Faults {
                fail_next_submits: 3,
                ..Faults::default()
            },
        );
        kit.directory.register([RegisteredAccount {
            provider: "bank_transfer".into(),
            account: "0011004455667".into(),
            holder_name: "NGUYEN VAN AN".into(),
            closed: false,
        }]);
        kit.reset();
        assert_eq!(kit.faults("bank_transfer").snapshot(), Faults::default());
        assert_eq!(kit.directory.len(), 1);
        assert!(kit.ledger.entries().is_empty());
    }

    #[test]
    fn arrivals_keep_only_the_most_recent_ones_however_many_requests_came() {
        let kit = SandboxKit::shared();
        for _ in 0..ARRIVALS_KEPT + 10 {
            kit.note_arrival("bank_transfer");
        }
        let kept = kit.arrivals("bank_transfer");
        assert_eq!(kept.len(), ARRIVALS_KEPT);
        let last = Instant::now();
        kit.note_arrival("bank_transfer");
        let newest = kit.arrivals("bank_transfer");
        assert_eq!(newest.len(), ARRIVALS_KEPT);
        assert_eq!(kit.arrival_count("bank_transfer"), ARRIVALS_KEPT as u64 + 11);
        assert_eq!(kit.arrival_count("vnpost_account"), 0);
        assert!(
            newest.last().is_some_and(|at| *at >= last),
            "the newest arrival is kept"
        );
        assert!(newest.windows(2).all(|pair| pair[0] <= pair[1]), "oldest first");
    }
}
