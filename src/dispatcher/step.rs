//! One dispatcher step for one leased payment: send, inquire or poll, then record the change.
//!
//! The rule that keeps money safe: `submitting` is committed *before* the request goes out,
//! and anything that may have reached the provider is resolved by a status inquiry —
//! never by a blind resend and never by a guess that it failed.

use gateway_adapter::money::format_dong;
use gateway_adapter::names::names_match;
use gateway_adapter::{AdapterError, Destination, PayoutAdapter, PayoutRequest, ProviderStatus};

use super::{retry_delay_ms, transient_retry_delay_ms, Dispatcher};
use crate::payment::PaymentState;
use crate::store::{now_ms, Change, Inquiries, PaymentRecord, StoreError, WalletReservation};

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
                let change = Change::to(PaymentState::NeedsReview, "the stored order cannot be read back").reason(
                    "unreadable_stored_order",
                    "the order stored for this payment no longer reads back (changed validation rules?); check it before paying",
                );
                if let Err(error) = self.record(&record, change).await {
                    tracing::error!(payment_id = %record.payment_id, %error, "Could not move an unreadable payment to review.");
                }
                return;
            }
        };
        let outcome = match record.state {
            PaymentState::Accepted | PaymentState::RetryScheduled => {
                self.send(adapter.as_ref(), record, &request).await
            }
            PaymentState::Submitting | PaymentState::Unknown => self.inquire(adapter.as_ref(), record, &request).await,
            PaymentState::Pending => self.poll(adapter.as_ref(), record, &request).await,
            PaymentState::NeedsReview => self.review(adapter.as_ref(), record, &request).await,
            other => {
                tracing::warn!(payment_id = %request.payment_id, state = %other, "A payment in a state with nothing to do was due.");
                Ok(())
            }
        };
        if let Err(error) = outcome {
            tracing::error!(payment_id = %request.payment_id, %error, "A dispatcher step could not be recorded; it will be retried.");
        }
    }

    /// Name inquiry where the channel has one, then `submitting` is committed, then the submit.
    async fn send(
        &self,
        adapter: &dyn PayoutAdapter,
        record: PaymentRecord,
        request: &PayoutRequest,
    ) -> Result<(), StoreError> {
        // The checks before money leaves run once: after a first submit the provider may have
        // booked the credit, so a retry only ever repeats the submit with the same key.
        if record.submitted_at.is_none() {
            if let Some(refusal) = self.reserve_wallet_month(&record, request).await? {
                return self.record(&record, refusal).await;
            }
            match adapter.name_inquiry(request).await {
                Ok(Some(holder)) if !names_match(&request.beneficiary.full_name, &holder) => {
                    let change = Change::to(PaymentState::Failed, "name inquiry returned another holder name").reason(
                        "name_mismatch",
                        "the account holder's name at the provider does not match the beneficiary's name",
                    );
                    return self.record(&record, change).await;
                }
                Ok(_) => {}
                Err(error) => return self.after_error(&record, error, "name inquiry").await,
            }
        }
        let submitting = Change {
            count_attempt: true,
            ..Change::to(PaymentState::Submitting, "submitting to the provider")
                .at(now_ms() + self.settings.lease_ms as i64)
        };
        let Some(record) = self.store.apply(&record, submitting).await? else {
            return Ok(());
        };
        metrics::counter!("gateway_provider_submits_total", "provider" => record.provider.clone()).increment(1);
        match adapter.submit(request).await {
            Ok(status) => self.after_status(&record, status, "submit answered").await,
            Err(error) => self.after_error(&record, error, "submit").await,
        }
    }

    /// For a wallet payout, reserves its amount in the wallet's month before anything is
    /// sent. Returns the refusal when the wallet would go over its monthly limit.
    async fn reserve_wallet_month(
        &self,
        record: &PaymentRecord,
        request: &PayoutRequest,
    ) -> Result<Option<Change>, StoreError> {
        let Destination::Wallet { provider, msisdn } = &request.destination else {
            return Ok(None);
        };
        let vietnam =
            chrono::FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC"));
        let month = chrono::Utc::now().with_timezone(&vietnam).format("%Y-%m").to_string();
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
            WalletReservation::OverLimit { already } => Some(
                Change::to(PaymentState::Failed, "refused before sending: wallet monthly limit").reason(
                    "wallet_monthly_limit",
                    format!(
                        "the wallet would receive more than {} ₫ in {month} ({} ₫ already reserved); nothing was sent",
                        format_dong(self.wallet_monthly_max.max(0) as u64),
                        format_dong(already.max(0) as u64)
                    ),
                ),
            ),
        })
    }

    /// Asks the provider what became of a payment whose outcome is unknown. If the provider
    /// never received it, it is sent again with the same idempotency key.
    async fn inquire(
        &self,
        adapter: &dyn PayoutAdapter,
        record: PaymentRecord,
        request: &PayoutRequest,
    ) -> Result<(), StoreError> {
        metrics::counter!("gateway_provider_inquiries_total", "provider" => record.provider.clone()).increment(1);
        match adapter.query_status(request).await {
            Ok(ProviderStatus::NotFound) if record.attempts >= self.settings.max_attempts => {
                let change = if record.submitted_at.is_none() {
                    Change {
                        dead_letter: Some("retries_exhausted"),
                        ..Change::to(PaymentState::Failed, "attempts ran out before anything was sent").reason(
                            "retries_exhausted",
                            format!(
                                "the provider could not be reached in {} attempts; nothing was sent",
                                record.attempts
                            ),
                        )
                    }
                } else {
                    // A status endpoint can lag behind a queued request: "not found" after the
                    // last attempt is not proof that nothing will be paid.
                    Change {
                        dead_letter: Some("unknown_outcome"),
                        ..Change::to(PaymentState::NeedsReview, "the provider has no record after the last attempt")
                            .reason(
                                "unknown_outcome",
                                format!(
                                    "the provider has no record after {} attempts, but an earlier request may still be booked; check with the provider before paying again",
                                    record.attempts
                                ),
                            )
                    }
                };
                self.record(&record, change).await
            }
            Ok(ProviderStatus::NotFound) => {
                let resend = Change {
                    count_attempt: true,
                    inquiries: Inquiries::Reset,
                    ..Change::to(
                        PaymentState::Submitting,
                        "the provider never received it; resending with the same key",
                    )
                    .at(now_ms() + self.settings.lease_ms as i64)
                };
                let Some(record) = self.store.apply(&record, resend).await? else {
                    return Ok(());
                };
                match adapter.submit(request).await {
                    Ok(status) => self.after_status(&record, status, "resubmit answered").await,
                    Err(error) => self.after_error(&record, error, "resubmit").await,
                }
            }
            Ok(status) => self.after_status(&record, status, "status inquiry answered").await,
            Err(error) => {
                let inquiries = record.inquiries + 1;
                if inquiries >= self.settings.max_inquiries {
                    let change = Change {
                        dead_letter: Some("unknown_outcome"),
                        inquiries: Inquiries::Increment,
                        ..Change::to(PaymentState::NeedsReview, format!("status inquiry failed: {error}")).reason(
                            "unknown_outcome",
                            format!("the outcome is still unknown after {inquiries} status inquiries; check with the provider before paying again"),
                        )
                    };
                    return self.record(&record, change).await;
                }
                let delay = retry_delay_ms(inquiries, self.settings.inquiry_delay_ms, self.settings.backoff_max_ms);
                let change = Change {
                    inquiries: Inquiries::Increment,
                    ..Change::to(PaymentState::Unknown, format!("status inquiry failed: {error}"))
                        .at(now_ms() + delay as i64)
                };
                self.record(&record, change).await
            }
        }
    }

    /// Asks about a payment that has been pending long enough that its callback may be lost.
    async fn poll(
        &self,
        adapter: &dyn PayoutAdapter,
        record: PaymentRecord,
        request: &PayoutRequest,
    ) -> Result<(), StoreError> {
        // Each poll that finds nothing new waits twice as long, up to 64 times the first wait,
        // so a provider that is slow for a day is not asked 170,000 times a minute.
        let backoff = 1_i64 << record.inquiries.clamp(0, 6);
        let next_poll = now_ms() + self.settings.pending_poll_after_ms as i64 * backoff;
        let still_pending = |detail: String| Change {
            inquiries: Inquiries::Increment,
            ..Change::to(PaymentState::Pending, detail).at(next_poll)
        };
        let pending_since = record.submitted_at.unwrap_or(record.created_at);
        let too_long = now_ms().saturating_sub(pending_since) > self.settings.pending_max_age_ms as i64;
        let still_pending = |detail: String| {
            if too_long {
                let days = self.settings.pending_max_age_ms as f64 / 86_400_000.0;
                Change::to(PaymentState::NeedsReview, format!("{detail}; pending too long")).reason(
                    "pending_too_long",
                    format!("the provider has not finished this payout {days:.1} days after it was sent; check with the provider"),
                )
            } else {
                still_pending(detail)
            }
        };
        match adapter.query_status(request).await {
            Ok(ProviderStatus::NotFound) => {
                let change = Change::to(PaymentState::NeedsReview, "the provider lost a payment it had accepted")
                    .reason(
                        "provider_lost_payment",
                        "the provider accepted this payout earlier but now has no record of it",
                    );
                self.record(&record, change).await
            }
            Ok(ProviderStatus::Pending { .. }) => {
                self.record(&record, still_pending("pending poll: still pending".to_string()))
                    .await
            }
            Ok(status) => self.after_status(&record, status, "pending poll answered").await,
            Err(error) => {
                self.record(&record, still_pending(format!("pending poll failed: {error}")))
                    .await
            }
        }
    }

    /// Asks about a sent payment in `needs_review`: a definite final answer settles it (the
    /// event log keeps why it was in review); anything else leaves it there and asks again
    /// later, twice as late each time. A payment that was never sent is left to a person.
    async fn review(
        &self,
        adapter: &dyn PayoutAdapter,
        record: PaymentRecord,
        request: &PayoutRequest,
    ) -> Result<(), StoreError> {
        if record.submitted_at.is_none() {
            let change = Change {
                reason_code: record.reason_code.clone(),
                reason: record.reason.clone(),
                ..Change::to(PaymentState::NeedsReview, "never sent: nothing to ask the provider")
            };
            return self.record(&record, change).await;
        }
        metrics::counter!("gateway_provider_inquiries_total", "provider" => record.provider.clone()).increment(1);
        let in_review = record
            .reason_code
            .as_deref()
            .unwrap_or("no reason recorded")
            .to_string();
        let answer = adapter.query_status(request).await;
        let change = match answer {
            Ok(ProviderStatus::Succeeded { provider_ref }) => Change {
                provider_ref,
                ..Change::to(
                    PaymentState::Succeeded,
                    format!("status inquiry settles a payment in review ({in_review}): succeeded"),
                )
            },
            Ok(ProviderStatus::Failed { code, reason }) => Change::to(
                PaymentState::Failed,
                format!("status inquiry settles a payment in review ({in_review}): failed"),
            )
            .reason(code, reason),
            other => {
                let backoff = 1_i64 << record.inquiries.clamp(0, 6);
                let answer = match other {
                    Ok(ProviderStatus::Pending { .. }) => "still pending".to_string(),
                    Ok(_) => "no record".to_string(),
                    Err(error) => format!("inquiry failed: {error}"),
                };
                Change {
                    reason_code: record.reason_code.clone(),
                    reason: record.reason.clone(),
                    inquiries: Inquiries::Increment,
                    ..Change::to(PaymentState::NeedsReview, format!("review inquiry: {answer}"))
                        .at(now_ms() + self.settings.review_inquiry_after_ms as i64 * backoff)
                }
            }
        };
        self.record(&record, change).await
    }

    /// Records what the provider said about a payment.
    async fn after_status(
        &self,
        record: &PaymentRecord,
        status: ProviderStatus,
        context: &str,
    ) -> Result<(), StoreError> {
        let change = match status {
            ProviderStatus::Succeeded { provider_ref } => Change {
                provider_ref,
                ..Change::to(PaymentState::Succeeded, format!("{context}: succeeded"))
            },
            ProviderStatus::Failed { code, reason } => {
                Change::to(PaymentState::Failed, format!("{context}: failed")).reason(code, reason)
            }
            ProviderStatus::Pending { provider_ref } => Change {
                provider_ref,
                inquiries: Inquiries::Reset,
                ..Change::to(PaymentState::Pending, format!("{context}: pending"))
                    .at(now_ms() + self.settings.pending_poll_after_ms as i64)
            },
            ProviderStatus::NotFound => Change::to(PaymentState::Unknown, format!("{context}: no record"))
                .at(now_ms() + self.settings.inquiry_delay_ms as i64),
        };
        self.record(record, change).await
    }

    /// Records a failed provider call according to its class.
    async fn after_error(&self, record: &PaymentRecord, error: AdapterError, context: &str) -> Result<(), StoreError> {
        // Only a submit can have reached the provider; a name inquiry pays nothing.
        let may_have_been_sent = matches!(record.state, PaymentState::Submitting | PaymentState::Unknown);
        let now = now_ms();
        let change = match error {
            AdapterError::Permanent { code, message } => {
                Change::to(PaymentState::Failed, format!("{context} refused permanently")).reason(code, message)
            }
            AdapterError::UnknownOutcome { message } if may_have_been_sent => {
                Change::to(PaymentState::Unknown, format!("{context}: outcome unknown"))
                    .reason("unknown_outcome", message)
                    .at(now + self.settings.inquiry_delay_ms as i64)
            }
            AdapterError::Transient {
                code,
                message,
                retry_after,
            } if may_have_been_sent => {
                if record.attempts >= self.settings.max_attempts {
                    // Out of attempts: ask before failing, since a 5xx may have been booked.
                    Change::to(PaymentState::Unknown, format!("{context}: {code} on the last attempt"))
                        .reason("retries_exhausted", message)
                        .at(now + self.settings.inquiry_delay_ms as i64)
                } else {
                    let delay = self.retry_delay(record.attempts, retry_after);
                    Change::to(PaymentState::RetryScheduled, format!("{context}: {code}"))
                        .reason(code, message)
                        .at(now + delay)
                }
            }
            // A name inquiry that failed or timed out: nothing was sent.
            AdapterError::Transient {
                code,
                message,
                retry_after,
            } => self.before_send_failure(record, code, message, retry_after, context),
            AdapterError::UnknownOutcome { message } => {
                self.before_send_failure(record, "provider_timeout".to_string(), message, None, context)
            }
        };
        self.record(record, change).await
    }

    /// A retryable failure before the submit: counted as an attempt; when attempts run out
    /// a payment that was never submitted fails, one that was is inquired first.
    fn before_send_failure(
        &self,
        record: &PaymentRecord,
        code: String,
        message: String,
        retry_after: Option<std::time::Duration>,
        context: &str,
    ) -> Change {
        let now = now_ms();
        let attempts = record.attempts + 1;
        if attempts < self.settings.max_attempts {
            return Change {
                count_attempt: true,
                ..Change::to(PaymentState::RetryScheduled, format!("{context}: {code}"))
                    .reason(code, message)
                    .at(now + self.retry_delay(attempts, retry_after))
            };
        }
        if record.submitted_at.is_none() {
            return Change {
                dead_letter: Some("retries_exhausted"),
                count_attempt: true,
                ..Change::to(PaymentState::Failed, format!("{context}: {code} on the last attempt")).reason(
                    "retries_exhausted",
                    format!("the provider could not be reached after {attempts} attempts: {message}"),
                )
            };
        }
        Change {
            count_attempt: true,
            ..Change::to(PaymentState::Unknown, format!("{context}: {code} on the last attempt"))
                .reason("retries_exhausted", message)
                .at(now + self.settings.inquiry_delay_ms as i64)
        }
    }

    fn retry_delay(&self, attempts: i64, retry_after: Option<std::time::Duration>) -> i64 {
        let delay = transient_retry_delay_ms(
            attempts,
            retry_after,
            self.settings.backoff_base_ms,
            self.settings.backoff_max_ms,
        );
        i64::try_from(delay).unwrap_or(i64::MAX)
    }

    /// Applies a change, logging it once. A lost compare-and-set means a callback got there
    /// first, which is fine: the payment is already where that callback put it.
    async fn record(&self, record: &PaymentRecord, mut change: Change) -> Result<(), StoreError> {
        // A sent payment going to review is asked about again later: a definite answer from
        // the provider then settles it without a person.
        if change.to == PaymentState::NeedsReview
            && record.state != PaymentState::NeedsReview
            && change.next_attempt_at.is_none()
            && record.submitted_at.is_some()
        {
            change.next_attempt_at = Some(now_ms() + self.settings.review_inquiry_after_ms as i64);
            change.inquiries = Inquiries::Reset;
        }
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
