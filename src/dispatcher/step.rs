//! One dispatcher step for one leased payment, and nothing but its I/O: what the payment
//! needs comes from `payment::lifecycle::plan`, what an answer means from `lifecycle::next`;
//! this file calls the provider and the store in between.
//!
//! The rule that keeps money safe: `submitting` is committed *before* the request goes out —
//! a change to `submitting` is applied first, and only then is the submit sent — and anything
//! that may have reached the provider is resolved by a status inquiry, as `lifecycle` decides.
//!
//! A call goes out only if it can answer before the step's lease runs out (see
//! [`super::limits`]). When it cannot, the step ends there and records nothing: the payment is
//! taken up again once its lease has run out, as after a crash (a submit not sent after
//! `submitting` was committed is found by the status inquiry that follows).

use std::time::Instant;

use gateway_adapter::names::names_match;
use gateway_adapter::{AdapterError, PayoutAdapter, PayoutRequest, ProviderStatus};

use super::limits::OutOfLease;
use super::Dispatcher;
use crate::payment::lifecycle::{self, Outcome, Plan, Step};
use crate::payment::PaymentState;
use crate::store::{now_ms, Change, PaymentRecord, StoreError, WalletReservation};

impl Dispatcher {
    /// Moves one payment one step forward. Errors are logged here, once; the payment stays
    /// leased until its lease runs out and is then tried again.
    pub(super) async fn step(&self, record: PaymentRecord, lease_ends: Instant) {
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
            Plan::Checks => self.check_then_send(adapter, record, &request, lease_ends).await,
            Plan::Ask(step) => self.ask(adapter, record, &request, step, lease_ends).await,
            Plan::Record(change) => {
                self.carry_out(adapter, record, change, Step::Submit, &request, lease_ends)
                    .await
            }
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
        lease_ends: Instant,
    ) -> Result<(), StoreError> {
        let outcome = match self.reserve_wallet_month(&record, request).await? {
            Some(refusal) => refusal,
            None => {
                let Ok(answer) = self.call(&record, lease_ends, adapter.name_inquiry(request)).await else {
                    return Ok(());
                };
                match answer {
                    Ok(Some(holder)) if !names_match(&request.beneficiary.full_name, &holder) => Outcome::NameMismatch,
                    Ok(_) => Outcome::Cleared,
                    Err(error) => Outcome::Error(error),
                }
            }
        };
        let change = lifecycle::next(&record, Step::Checks, outcome, &self.policy, now_ms());
        self.carry_out(adapter, record, change, Step::Submit, request, lease_ends)
            .await
    }

    /// For a wallet payout, reserves its amount in the wallet's month before anything is
    /// sent. Returns the refusal when the wallet would go over its monthly limit.
    async fn reserve_wallet_month(
        &self,
        record: &PaymentRecord,
        request: &PayoutRequest,
    ) -> Result<Option<Outcome>, StoreError> {
        let Some((provider, msisdn)) = request.destination.wallet() else {
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
        lease_ends: Instant,
    ) -> Result<(), StoreError> {
        let Ok(answer) = self.call(&record, lease_ends, adapter.query_status(request)).await else {
            return Ok(());
        };
        if step != Step::PendingPoll {
            metrics::counter!("gateway_provider_inquiries_total", "provider" => record.provider.clone()).increment(1);
        }
        let change = self.decide(&record, step, answer);
        self.carry_out(adapter, record, change, step.submit_after(), request, lease_ends)
            .await
    }

    /// Records `change`. A change to `submitting` is committed *before* the request goes out;
    /// then `submit` is sent and what its answer means is recorded.
    async fn carry_out(
        &self,
        adapter: &dyn PayoutAdapter,
        record: PaymentRecord,
        change: impl Into<Decided>,
        submit: Step,
        request: &PayoutRequest,
        lease_ends: Instant,
    ) -> Result<(), StoreError> {
        let decided = change.into();
        if decided.change.to != PaymentState::Submitting {
            return self.record(&record, decided).await;
        }
        let change = lifecycle::for_destination(decided.change, &request.destination);
        let Some(record) = self.store.apply(&record, change).await? else {
            return Ok(());
        };
        metrics::counter!("gateway_payment_transitions_total", "to" => PaymentState::Submitting.as_str()).increment(1);
        let answer = match self.call(&record, lease_ends, adapter.submit(request)).await {
            Ok(answer) => {
                if submit == Step::Submit {
                    metrics::counter!("gateway_provider_submits_total", "provider" => record.provider.clone())
                        .increment(1);
                }
                answer
            }
            // Cut short: it may have reached the provider; the payment stays `submitting` and is
            // asked about once its lease has run out.
            Err(OutOfLease::CutShort) => return Ok(()),
            // Not made: nothing left. Recorded as such (the attempt counted with `submitting` is
            // given back), or each such turn spent an attempt on a submit never sent.
            Err(OutOfLease::NotMade) => Err(AdapterError::transient(
                lifecycle::CALL_NOT_MADE,
                "The submit was not sent: no call permit of the provider came in time for an answer within the payment's lease.",
            )),
        };
        let change = self.decide(&record, submit, answer);
        self.record(&record, change).await
    }

    /// What the provider's `answer` to a call of `step` means for `record`, with the final
    /// state the answer itself stated.
    fn decide(&self, record: &PaymentRecord, step: Step, answer: Result<ProviderStatus, AdapterError>) -> Decided {
        let outcome = Outcome::from(answer);
        let said = outcome.provider_settles();
        Decided {
            change: lifecycle::next(record, step, outcome, &self.policy, now_ms()),
            said,
        }
    }

    /// Runs a call about `record` to its provider within the provider's call permits and the
    /// step's lease (see [`super::limits`]); a call that could not answer before the lease ends
    /// is not made, and one still out as it is about to end is cut short (logged here).
    async fn call<T>(
        &self,
        record: &PaymentRecord,
        lease_ends: Instant,
        call: impl std::future::Future<Output = T>,
    ) -> Result<T, OutOfLease> {
        let made = match self.providers.get(&record.provider) {
            Some(limits) => limits.call(lease_ends, call).await,
            // Every adapter has limits (both are made from the same map); a step for a
            // provider without an adapter ends before any call.
            None => Ok(call.await),
        };
        match made {
            Err(OutOfLease::NotMade) => {
                tracing::warn!(payment_id = %record.payment_id, provider = %record.provider, state = %record.state, "A provider call was not made: it could not have answered before the payment's lease runs out (the provider's call permits were all taken too long). A submit is put back in the queue at once; after any other call the payment is taken up again when the lease has run out.");
            }
            Err(OutOfLease::CutShort) => {
                tracing::warn!(payment_id = %record.payment_id, provider = %record.provider, state = %record.state, "A provider call was cut short unanswered: its lease was about to run out (it waited inside the adapter, at the provider's rate limit most likely). What it may have done is asked after when the payment is taken up again.");
            }
            Ok(_) => {}
        }
        made
    }

    /// Applies a change, logging it once. A lost compare-and-set means a callback (or an
    /// operator) got there first, which is fine: the payment is already where that change put
    /// it — unless the provider's answer (`said`) just settled it. Then that answer still
    /// stands (see [`Self::settle_changed_meanwhile`]).
    async fn record(&self, record: &PaymentRecord, change: impl Into<Decided>) -> Result<(), StoreError> {
        let Decided { change, said } = change.into();
        let to = change.to;
        let settles = (said == Some(to)).then(|| change.clone());
        let reason_code = change.reason_code.clone();
        match self.store.apply(record, change).await? {
            Some(_) => {
                metrics::counter!("gateway_payment_transitions_total", "to" => to.as_str()).increment(1);
                tracing::info!(payment_id = %record.payment_id, from = %record.state, to = %to, reason_code = reason_code.as_deref().unwrap_or(""), "Payment moved.");
            }
            None => match settles {
                Some(change) => self.settle_changed_meanwhile(record, change).await?,
                None => {
                    tracing::debug!(payment_id = %record.payment_id, to = %to, "The payment changed meanwhile; this step's result is dropped.");
                }
            },
        }
        Ok(())
    }

    /// The provider's final answer (`change`) about a payment that changed while it was
    /// asked. Still on its way (a "processing" callback moved it to `pending` meanwhile), the
    /// payment is settled by that answer as it now stands; dropped, it waited for its next
    /// poll to learn what the provider had said. One moved to `needs_review` meanwhile was put
    /// there for a person, and stays. Final the other way (paid and failed, or
    /// failed and paid), upstream and ops are told (`provider_contradicts_final`), since
    /// upstream would reissue a payment the provider says it made, or take as paid one the
    /// provider says it did not pay.
    async fn settle_changed_meanwhile(&self, record: &PaymentRecord, change: Change) -> Result<(), StoreError> {
        let to = change.to;
        let detail = change.detail.clone();
        if let Some(current) = self.store.payment(&record.payment_id).await? {
            if current.state != PaymentState::NeedsReview && current.state.can_become(to) {
                let from = current.state;
                if self.store.apply(&current, change).await?.is_some() {
                    metrics::counter!("gateway_payment_transitions_total", "to" => to.as_str()).increment(1);
                    tracing::info!(payment_id = %record.payment_id, %from, %to, "Payment moved by the provider's answer, after it changed while the provider was asked.");
                    return Ok(());
                }
            }
        }
        // Final meanwhile (or changed once more: its next step asks again).
        self.store
            .report_contradicting_answer(&record.payment_id, to, &detail)
            .await?;
        Ok(())
    }
}

/// A change and the final state the provider's answer behind it stated, if it stated one
/// (see [`Outcome::provider_settles`]); a change the dispatcher decided alone states none.
struct Decided {
    change: Change,
    said: Option<PaymentState>,
}

impl From<Change> for Decided {
    fn from(change: Change) -> Self {
        Self { change, said: None }
    }
}
