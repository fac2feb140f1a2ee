//! One dispatcher step for one leased payment, and nothing but its I/O: what the payment
//! needs comes from `payment::lifecycle::plan`, what an answer means from `lifecycle::next`;
//! this file calls the provider and the store in between.
//!
//! The rule that keeps money safe: `submitting` is committed *before* the request goes out —
//! a change to `submitting` is applied first, and only then is the submit sent — and anything
//! that may have reached the provider is resolved by a status inquiry, as `lifecycle` decides.

use gateway_adapter::names::names_match;
use gateway_adapter::{Destination, PayoutAdapter, PayoutRequest};

use super::Dispatcher;
use crate::payment::lifecycle::{self, Outcome, Plan, Step};
use crate::payment::PaymentState;
use crate::store::{now_ms, Change, PaymentRecord, StoreError, WalletReservation};

impl Dispatcher {
    /// Moves one payment one step forward. Errors are logged here, once; the payment stays
    /// leased until its lease runs out and is then tried again.
    pub(super) async fn step(&self, record: PaymentRecord) {
        let Some(adapter) = self.adapters.get(&record.provider).cloned() else {
            tracing::error!(payment_id = %record.payment_id, provider = %record.provider, "No adapter is configured for this provider; the payment waits.");
            return;
        };
        let request = match record.payout_request() {
            Ok(request) => request,
            Err(error) => {
                tracing::error!(payment_id = %record.payment_id, error_kind = ?error.classify(), "The stored order cannot be read back; the payment goes to review.");
                let change = lifecycle::unreadable_order(&record, &self.policy, now_ms());
                if let Err(error) = self.record(&record, change).await {
                    tracing::error!(payment_id = %record.payment_id, %error, "Could not move an unreadable payment to review.");
                }
                return;
            }
        };
        let adapter = adapter.as_ref();
        let outcome = match lifecycle::plan(&record, &self.policy, now_ms()) {
            Plan::Checks => self.check_then_send(adapter, record, &request).await,
            Plan::Ask(step) => self.ask(adapter, record, &request, step).await,
            Plan::Record(change) => self.carry_out(adapter, record, change, Step::Submit, &request).await,
            Plan::Nothing => {
                tracing::warn!(payment_id = %request.payment_id, state = %record.state, "A payment in a state with nothing to do was due.");
                Ok(())
            }
        };
        if let Err(error) = outcome {
            tracing::error!(payment_id = %request.payment_id, %error, "A dispatcher step could not be recorded; it will be retried.");
        }
    }

    /// The checks before the first submit (the wallet's month, then the name inquiry where
    /// the channel has one), then `submitting` and the submit if they pass.
    async fn check_then_send(
        &self,
        adapter: &dyn PayoutAdapter,
        record: PaymentRecord,
        request: &PayoutRequest,
    ) -> Result<(), StoreError> {
        let outcome = match self.reserve_wallet_month(&record, request).await? {
            Some(refusal) => refusal,
            None => match self.call(&record.provider, adapter.name_inquiry(request)).await {
                Ok(Some(holder)) if !names_match(&request.beneficiary.full_name, &holder) => Outcome::NameMismatch,
                Ok(_) => Outcome::Cleared,
                Err(error) => Outcome::Error(error),
            },
        };
        let change = lifecycle::next(&record, Step::Checks, outcome, &self.policy, now_ms());
        self.carry_out(adapter, record, change, Step::Submit, request).await
    }

    /// For a wallet payout, reserves its amount in the wallet's month before anything is
    /// sent. Returns the refusal when the wallet would go over its monthly limit.
    async fn reserve_wallet_month(
        &self,
        record: &PaymentRecord,
        request: &PayoutRequest,
    ) -> Result<Option<Outcome>, StoreError> {
        let Destination::Wallet { provider, msisdn } = &request.destination else {
            return Ok(None);
        };
        let month = gateway_adapter::vietnam_time::month(chrono::Utc::now());
        let reservation = self
            .store
            .reserve_wallet_month(
                &record.payment_id,
                provider.as_str(),
                msisdn.as_str(),
                &month,
                request.amount.as_i64(),
                self.wallet_monthly_max,
            )
            .await?;
        Ok(match reservation {
            WalletReservation::Reserved => None,
            WalletReservation::OverLimit { already } => Some(Outcome::WalletLimit {
                month,
                limit: self.wallet_monthly_max,
                already,
            }),
        })
    }

    /// Asks the provider about the payment (status inquiry, pending poll or review inquiry)
    /// and records what the answer means; "never received" may lead to a resubmit.
    async fn ask(
        &self,
        adapter: &dyn PayoutAdapter,
        record: PaymentRecord,
        request: &PayoutRequest,
        step: Step,
    ) -> Result<(), StoreError> {
        if step != Step::PendingPoll {
            metrics::counter!("gateway_provider_inquiries_total", "provider" => record.provider.clone()).increment(1);
        }
        let answer = self.call(&record.provider, adapter.query_status(request)).await;
        let change = lifecycle::next(&record, step, answer.into(), &self.policy, now_ms());
        self.carry_out(adapter, record, change, step.submit_after(), request)
            .await
    }

    /// Records `change`. A change to `submitting` is committed *before* the request goes out;
    /// then `submit` is sent and what its answer means is recorded.
    async fn carry_out(
        &self,
        adapter: &dyn PayoutAdapter,
        record: PaymentRecord,
        change: Change,
        submit: Step,
        request: &PayoutRequest,
    ) -> Result<(), StoreError> {
        if change.to != PaymentState::Submitting {
            return self.record(&record, change).await;
        }
        let Some(record) = self.store.apply(&record, change).await? else {
            return Ok(());
        };
        if submit == Step::Submit {
            metrics::counter!("gateway_provider_submits_total", "provider" => record.provider.clone()).increment(1);
        }
        let answer = self.call(&record.provider, adapter.submit(request)).await;
        let change = lifecycle::next(&record, submit, answer.into(), &self.policy, now_ms());
        self.record(&record, change).await
    }

    /// Runs a call to `provider` within its call permits (see [`super::limits`]).
    async fn call<T>(&self, provider: &str, call: impl std::future::Future<Output = T>) -> T {
        match self.providers.get(provider) {
            Some(limits) => limits.call(call).await,
            // Every adapter has limits (both are made from the same map); a step for a
            // provider without an adapter ends before any call.
            None => call.await,
        }
    }

    /// Applies a change, logging it once. A lost compare-and-set means a callback got there
    /// first, which is fine: the payment is already where that callback put it.
    async fn record(&self, record: &PaymentRecord, change: Change) -> Result<(), StoreError> {
        let to = change.to;
        let reason_code = change.reason_code.clone();
        match self.store.apply(record, change).await? {
            Some(_) => {
                metrics::counter!("gateway_payment_transitions_total", "to" => to.as_str()).increment(1);
                tracing::info!(payment_id = %record.payment_id, from = %record.state, to = %to, reason_code = reason_code.as_deref().unwrap_or(""), "Payment moved.");
            }
            None => {
                tracing::debug!(payment_id = %record.payment_id, to = %to, "The payment changed meanwhile; this step's result is dropped.");
            }
        }
        Ok(())
    }
}
