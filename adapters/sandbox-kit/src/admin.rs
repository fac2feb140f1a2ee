//! The sandbox's shared state and its admin API: read the ledger, set faults, register
//! accounts, reset. Tests and the `demo` command drive the emulated providers through it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;

use crate::callback::{CallbackSender, CallbackStats};
use crate::directory::{Directory, RegisteredAccount};
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
    /// When each request reached each provider emulation that notes arrivals, oldest first:
    /// what a test measures a rate limit against.
    arrivals: Mutex<HashMap<String, Vec<Instant>>>,
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

    /// Notes that a request reached `provider`, now.
    pub fn note_arrival(&self, provider: &str) {
        let mut map = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(provider.to_string()).or_default().push(Instant::now());
    }

    /// When the requests noted for `provider` arrived, oldest first.
    pub fn arrivals(&self, provider: &str) -> Vec<Instant> {
        let map = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        map.get(provider).cloned().unwrap_or_default()
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
/// (a JSON array of [`RegisteredAccount`]), `POST /sandbox/reset`, and the statements:
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

async fn register_accounts(State(kit): State<SharedKit>, Json(accounts): Json<Vec<RegisteredAccount>>) -> StatusCode {
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
}
