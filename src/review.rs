//! The operator's way out of `needs_review`: check with the provider, then settle the payment.
//!
//! A person who confirmed the outcome with the provider resolves a payment as succeeded or
//! failed. The gateway asks the provider itself first and writes nothing when the answer
//! contradicts the person, is not final, or does not come; when it agrees, the payment moves
//! through the same compare-and-set path as every other change ([`Store::apply`]): one
//! transaction with the event log line (who, when, the note, the provider's answer) and the
//! final result in the outbox, which the running gateway's relay publishes.

use std::fmt;
use std::str::FromStr;

use gateway_adapter::ProviderStatus;

use crate::payment::PaymentState;
use crate::providers::Adapters;
use crate::store::{Change, PaymentRecord, Store, StoreError};

/// The reason code of every payment an operator resolved.
pub const RESOLVED_BY_OPERATOR: &str = "resolved_by_operator";

/// What the operator found when they checked with the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The money reached the beneficiary.
    Succeeded,
    /// Nothing was credited, and nothing will be.
    Failed,
}

impl Verdict {
    pub fn state(self) -> PaymentState {
        match self {
            Verdict::Succeeded => PaymentState::Succeeded,
            Verdict::Failed => PaymentState::Failed,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.state().as_str())
    }
}

impl FromStr for Verdict {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "succeeded" => Ok(Verdict::Succeeded),
            "failed" => Ok(Verdict::Failed),
            other => Err(format!("`{other}` is not an outcome; use succeeded or failed")),
        }
    }
}

/// An operator's request to settle one payment in `needs_review`.
#[derive(Clone, Debug)]
pub struct Resolution {
    /// Upstream's order id, or the gateway's payment id.
    pub order_id: String,
    pub verdict: Verdict,
    /// What the operator confirmed and how (ticket, call); goes to the event log only.
    pub note: String,
    /// The provider's reference for the transfer, when the operator has one.
    pub provider_ref: Option<String>,
    /// Who resolved it, for the event log.
    pub operator: String,
    /// The operator confirmed that the provider has no record of a payout that was sent and
    /// will never book it (its idempotency window has passed, or it said so in writing). Without
    /// this, "no record" does not prove failure: a status endpoint can lag a queued request,
    /// and a failed payment frees the beneficiary's slot for a new order.
    pub no_record_confirmed: bool,
    /// The operator confirmed the outcome with the provider by hand, for a payment that was
    /// sent but whose stored order no longer reads back (`unreadable_stored_order`): the gateway
    /// cannot ask the provider about it, and without this nothing could ever settle it but a
    /// callback. Refused for a payment whose order reads back (the provider is asked instead).
    pub without_inquiry: bool,
}

/// A resolution that was written.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The payment as it now stands (final).
    pub payment: PaymentRecord,
    /// The state it left (`needs_review`) and its reason code there.
    pub previous_reason_code: Option<String>,
    /// What the provider answered to the status inquiry, in words.
    pub provider_answer: String,
    /// The event log line written.
    pub detail: String,
}

/// Why nothing was written. Each message says what to do next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("No order or payment {0} in the store.")]
    NoSuchOrder(String),
    #[error("Payment {payment_id} is {state}, not needs_review; only a payment in needs_review can be resolved.")]
    NotInReview { payment_id: String, state: PaymentState },
    #[error("A note is required: say what the provider confirmed and how (ticket, call, statement).")]
    MissingNote,
    #[error("Payment {payment_id} was never sent to the provider, so it cannot have succeeded; nothing was written. Resolve it as failed, or let upstream send a new order.")]
    NeverSubmitted { payment_id: String },
    #[error("No adapter is configured for provider {provider}, so its answer cannot be checked; nothing was written. Configure [providers.{provider}] and try again.")]
    NoAdapter { provider: String },
    #[error("The order stored for payment {payment_id} no longer reads back, so the gateway cannot ask the provider about it; nothing was written. If you confirmed the outcome with the provider yourself, resolve again with --without-inquiry.")]
    UnreadableOrder { payment_id: String },
    #[error("The order stored for payment {payment_id} reads back, so the gateway asks the provider itself; nothing was written. Resolve again without --without-inquiry.")]
    InquiryPossible { payment_id: String },
    #[error(
        "The status inquiry to {provider} failed ({error}); nothing was written. Try again when the provider answers."
    )]
    InquiryFailed { provider: String, error: String },
    #[error("The provider says the payout {provider_answer}, but you said {verdict}; nothing was written. Check with the provider again.")]
    Contradicts { verdict: Verdict, provider_answer: String },
    #[error("The provider says the payout {provider_answer}: not final yet; nothing was written. Resolve it once the provider has a final answer.")]
    NotFinalAtProvider { provider_answer: String },
    #[error("The provider has no record of this payout, so it cannot have succeeded; nothing was written. Check the reference with the provider.")]
    NoRecordAtProvider,
    #[error("The provider has no record of payment {payment_id}, but it was sent, and a status endpoint can lag a queued request; nothing was written. If the provider confirmed it will never book it, resolve again with --no-record-confirmed.")]
    NoRecordIsNoProof { payment_id: String },
    #[error("The provider reports transfer {provider_ref} for this payment, not {operator_ref}; nothing was written. Check you are looking at the right transfer.")]
    ReferenceMismatch { provider_ref: String, operator_ref: String },
    #[error("Payment {payment_id} changed while the provider was being asked (the gateway settled it, or another operator did); nothing was written. Look at it again with `gateway orders show`.")]
    ChangedMeanwhile { payment_id: String },
}

/// What `resolve` did.
#[derive(Clone, Debug)]
pub enum ResolveOutcome {
    Resolved(Box<Resolved>),
    Refused(Refusal),
}

/// The provider's answer in words (no personal data: adapters never copy free text).
pub fn describe_answer(answer: &ProviderStatus) -> String {
    let reference = |provider_ref: &Option<String>| {
        provider_ref
            .as_deref()
            .map(|r| format!(" (transfer {r})"))
            .unwrap_or_default()
    };
    match answer {
        ProviderStatus::Succeeded { provider_ref } => format!("succeeded{}", reference(provider_ref)),
        ProviderStatus::Failed { code, .. } => format!("failed ({code})"),
        ProviderStatus::Pending { provider_ref } => format!("is still pending{}", reference(provider_ref)),
        ProviderStatus::NotFound => "has no record at the provider".to_string(),
    }
}

/// Whether the provider's answer backs the operator's verdict, and the change to write if it
/// does. No I/O: `at` is the time the inquiry was answered.
pub fn decide(
    record: &PaymentRecord,
    resolution: &Resolution,
    answer: &ProviderStatus,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Change, Refusal> {
    let provider_answer = describe_answer(answer);
    let contradicts = || Refusal::Contradicts {
        verdict: resolution.verdict,
        provider_answer: provider_answer.clone(),
    };
    let (reason, provider_ref) = match (resolution.verdict, answer) {
        (_, ProviderStatus::Pending { .. }) => {
            return Err(Refusal::NotFinalAtProvider {
                provider_answer: provider_answer.clone(),
            })
        }
        (Verdict::Succeeded, _) if record.submitted_at.is_none() => {
            return Err(Refusal::NeverSubmitted {
                payment_id: record.payment_id.clone(),
            })
        }
        (Verdict::Succeeded, ProviderStatus::NotFound) => return Err(Refusal::NoRecordAtProvider),
        (Verdict::Succeeded, ProviderStatus::Failed { .. }) | (Verdict::Failed, ProviderStatus::Succeeded { .. }) => {
            return Err(contradicts())
        }
        (Verdict::Succeeded, ProviderStatus::Succeeded { provider_ref }) => {
            if let (Some(theirs), Some(ours)) = (provider_ref, &resolution.provider_ref) {
                if theirs != ours {
                    return Err(Refusal::ReferenceMismatch {
                        provider_ref: theirs.clone(),
                        operator_ref: ours.clone(),
                    });
                }
            }
            (
                "an operator confirmed with the provider that the payout reached the beneficiary".to_string(),
                resolution.provider_ref.clone().or_else(|| provider_ref.clone()),
            )
        }
        (Verdict::Failed, ProviderStatus::Failed { code, .. }) => (
            format!("an operator confirmed with the provider that the payout failed ({code}); nothing was credited"),
            resolution.provider_ref.clone(),
        ),
        (Verdict::Failed, ProviderStatus::NotFound) if record.submitted_at.is_none() => {
            (closed_before_sending(record), resolution.provider_ref.clone())
        }
        (Verdict::Failed, ProviderStatus::NotFound) if !resolution.no_record_confirmed => {
            return Err(Refusal::NoRecordIsNoProof {
                payment_id: record.payment_id.clone(),
            })
        }
        (Verdict::Failed, ProviderStatus::NotFound) => (
            "an operator confirmed with the provider that it has no record of this payout; nothing was credited"
                .to_string(),
            resolution.provider_ref.clone(),
        ),
    };
    Ok(Change {
        provider_ref,
        ..Change::to(
            resolution.verdict.state(),
            resolved_detail(resolution, at, &provider_answer),
        )
        .reason(RESOLVED_BY_OPERATOR, reason)
    })
}

/// What the event log says of a resolution: the verdict, who, when, the provider's answer and
/// the operator's note.
fn resolved_detail(resolution: &Resolution, at: chrono::DateTime<chrono::Utc>, provider_answer: &str) -> String {
    format!(
        "resolved as {} by operator {} at {}; provider's answer: {}; note: {}",
        resolution.verdict,
        resolution.operator,
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        provider_answer,
        resolution.note.trim()
    )
}

/// The reason of a payment held before anything was sent that an operator closed failed.
fn closed_before_sending(record: &PaymentRecord) -> String {
    format!(
        "the payment was held before anything was sent ({}) and an operator closed it; nothing was paid",
        record.reason_code.as_deref().unwrap_or("needs_review")
    )
}

/// Resolves a payment in `needs_review` as the operator found it, after a status inquiry
/// through its adapter agreed. Store errors are errors; everything else is an outcome.
pub async fn resolve(
    store: &Store,
    adapters: &Adapters,
    resolution: &Resolution,
) -> Result<ResolveOutcome, StoreError> {
    let refused = |refusal| Ok(ResolveOutcome::Refused(refusal));
    let record = match payment_to_resolve(store, &resolution.order_id).await? {
        Ok(record) => record,
        Err(refusal) => return refused(refusal),
    };
    if record.state != PaymentState::NeedsReview {
        return refused(Refusal::NotInReview {
            payment_id: record.payment_id,
            state: record.state,
        });
    }
    if resolution.note.trim().is_empty() {
        return refused(Refusal::MissingNote);
    }
    if resolution.verdict == Verdict::Succeeded && record.submitted_at.is_none() {
        return refused(Refusal::NeverSubmitted {
            payment_id: record.payment_id,
        });
    }
    let Some(adapter) = adapters.get(&record.provider) else {
        return refused(Refusal::NoAdapter {
            provider: record.provider,
        });
    };
    let (change, provider_answer) = match record.payout_request() {
        Ok(_) if resolution.without_inquiry => {
            return refused(Refusal::InquiryPossible {
                payment_id: record.payment_id,
            })
        }
        Ok(request) => {
            let answer = match adapter.query_status(&request).await {
                Ok(answer) => answer,
                Err(error) => {
                    return refused(Refusal::InquiryFailed {
                        provider: record.provider,
                        error: error.to_string(),
                    })
                }
            };
            match decide(&record, resolution, &answer, chrono::Utc::now()) {
                Ok(change) => (change, describe_answer(&answer)),
                Err(refusal) => return refused(refusal),
            }
        }
        // Its stored order no longer reads back, so the provider cannot be asked about it;
        // but nothing of it was ever sent, so there is nothing to ask: it can be closed failed.
        Err(_) if resolution.verdict == Verdict::Failed && record.submitted_at.is_none() => (
            closed_unsent(&record, resolution, chrono::Utc::now()),
            NOT_ASKED.to_string(),
        ),
        // Sent, so only the provider knows; it cannot be asked, but the operator did ask it.
        Err(_) if resolution.without_inquiry => (
            settled_by_hand(resolution, chrono::Utc::now()),
            NOT_ASKED_SENT.to_string(),
        ),
        Err(_) => {
            return refused(Refusal::UnreadableOrder {
                payment_id: record.payment_id,
            })
        }
    };
    let detail = change.detail.clone();
    let Some(payment) = store.apply(&record, change).await? else {
        return refused(Refusal::ChangedMeanwhile {
            payment_id: record.payment_id,
        });
    };
    tracing::info!(payment_id = %payment.payment_id, to = %payment.state, operator = %resolution.operator, "An operator resolved a payment in review.");
    Ok(ResolveOutcome::Resolved(Box::new(Resolved {
        payment,
        previous_reason_code: record.reason_code,
        provider_answer,
        detail,
    })))
}

/// What a resolution says of the provider's answer when the provider was not asked.
const NOT_ASKED: &str = "not asked: nothing was sent, and the stored order no longer reads back";

/// The change that closes a payment held before anything was sent, whose stored order no
/// longer reads back (`unreadable_stored_order`): failed, as the operator says, without an
/// inquiry (there is no request to ask with, and no transfer to ask about).
fn closed_unsent(record: &PaymentRecord, resolution: &Resolution, at: chrono::DateTime<chrono::Utc>) -> Change {
    Change::to(PaymentState::Failed, resolved_detail(resolution, at, NOT_ASKED))
        .reason(RESOLVED_BY_OPERATOR, closed_before_sending(record))
}

/// What a resolution says of the provider's answer for a sent payment settled by hand.
const NOT_ASKED_SENT: &str =
    "not asked by the gateway: the stored order no longer reads back; the operator confirmed the outcome with the provider";

/// The change that settles a sent payment whose stored order no longer reads back, on the
/// operator's word (`--without-inquiry`): the gateway has no request to ask the provider with.
fn settled_by_hand(resolution: &Resolution, at: chrono::DateTime<chrono::Utc>) -> Change {
    let reason = match resolution.verdict {
        Verdict::Succeeded => {
            "an operator confirmed with the provider by hand that the payout reached the beneficiary (the stored order no longer reads back, so the gateway could not ask)"
        }
        Verdict::Failed => {
            "an operator confirmed with the provider by hand that the payout failed and will never be booked (the stored order no longer reads back, so the gateway could not ask); nothing was credited"
        }
    };
    Change {
        provider_ref: resolution.provider_ref.clone(),
        ..Change::to(
            resolution.verdict.state(),
            resolved_detail(resolution, at, NOT_ASKED_SENT),
        )
        .reason(RESOLVED_BY_OPERATOR, reason)
    }
}

/// The payment an id names: a payment id, or an order id (unique: one order id, one payment).
async fn payment_to_resolve(store: &Store, id: &str) -> Result<Result<PaymentRecord, Refusal>, sqlx::Error> {
    let mut records = store.payments_named(id).await?;
    let index = records.iter().position(|record| record.payment_id == id).unwrap_or(0);
    Ok(if records.is_empty() {
        Err(Refusal::NoSuchOrder(id.to_string()))
    } else {
        Ok(records.swap_remove(index))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(submitted: bool) -> PaymentRecord {
        PaymentRecord {
            payment_id: "pay_1".into(),
            order_id: "TB-1".into(),
            channel: "bank_transfer".into(),
            provider: "bank_transfer".into(),
            amount: 500_000,
            batch_id: "TB".into(),
            commune_code: "12454".into(),
            order_json: Some("{}".into()),
            state: PaymentState::NeedsReview,
            version: 3,
            seq: 3,
            attempts: 1,
            inquiries: 0,
            next_attempt_at: None,
            provider_ref: None,
            reason_code: Some("unknown_outcome".into()),
            reason: None,
            created_at: 0,
            updated_at: 0,
            submitted_at: submitted.then_some(1),
        }
    }

    fn resolution(verdict: Verdict, provider_ref: Option<&str>) -> Resolution {
        Resolution {
            order_id: "TB-1".into(),
            verdict,
            note: "ticket 42".into(),
            provider_ref: provider_ref.map(str::to_string),
            operator: "lan".into(),
            no_record_confirmed: false,
            without_inquiry: false,
        }
    }

    fn succeeded(reference: Option<&str>) -> ProviderStatus {
        ProviderStatus::Succeeded {
            provider_ref: reference.map(str::to_string),
        }
    }

    fn failed() -> ProviderStatus {
        ProviderStatus::Failed {
            code: "ACCOUNT_CLOSED".into(),
            reason: "closed".into(),
        }
    }

    #[test]
    fn the_provider_must_back_the_operator() {
        use Verdict::*;
        let pending = ProviderStatus::Pending { provider_ref: None };
        let cases = [
            (true, Succeeded, succeeded(None), Some(PaymentState::Succeeded)),
            (true, Succeeded, failed(), None),
            (true, Succeeded, pending.clone(), None),
            (true, Succeeded, ProviderStatus::NotFound, None),
            (true, Failed, failed(), Some(PaymentState::Failed)),
            // A sent payment the provider has no record of is not proof of failure...
            (true, Failed, ProviderStatus::NotFound, None),
            (true, Failed, succeeded(None), None),
            (true, Failed, pending, None),
            (false, Failed, ProviderStatus::NotFound, Some(PaymentState::Failed)),
            (false, Succeeded, succeeded(None), None),
        ];
        for (submitted, verdict, answer, expected) in cases {
            let decided = decide(
                &record(submitted),
                &resolution(verdict, None),
                &answer,
                chrono::Utc::now(),
            );
            assert_eq!(
                decided.as_ref().ok().map(|change| change.to),
                expected,
                "submitted={submitted} {verdict} vs {answer:?}: {decided:?}"
            );
        }
    }

    #[test]
    fn no_record_of_a_sent_payment_fails_it_only_when_the_operator_confirmed_it_never_will_be_booked() {
        let unconfirmed = decide(
            &record(true),
            &resolution(Verdict::Failed, None),
            &ProviderStatus::NotFound,
            chrono::Utc::now(),
        );
        assert!(
            matches!(unconfirmed, Err(Refusal::NoRecordIsNoProof { .. })),
            "{unconfirmed:?}"
        );
        let confirmed = decide(
            &record(true),
            &Resolution {
                no_record_confirmed: true,
                ..resolution(Verdict::Failed, None)
            },
            &ProviderStatus::NotFound,
            chrono::Utc::now(),
        );
        assert_eq!(confirmed.map(|change| change.to).ok(), Some(PaymentState::Failed));
    }

    #[test]
    fn a_resolution_records_who_the_note_and_the_answer() {
        let change = decide(
            &record(true),
            &resolution(Verdict::Succeeded, None),
            &succeeded(Some("TRF-9")),
            chrono::Utc::now(),
        )
        .unwrap_or_else(|refusal| panic!("{refusal}"));
        assert_eq!(change.reason_code.as_deref(), Some(RESOLVED_BY_OPERATOR));
        assert_eq!(change.provider_ref.as_deref(), Some("TRF-9"));
        for part in ["operator lan", "ticket 42", "succeeded (transfer TRF-9)"] {
            assert!(change.detail.contains(part), "{part} in {}", change.detail);
        }
    }

    #[test]
    fn another_transfer_reference_is_refused() {
        let decided = decide(
            &record(true),
            &resolution(Verdict::Succeeded, Some("TRF-1")),
            &succeeded(Some("TRF-9")),
            chrono::Utc::now(),
        );
        assert!(matches!(decided, Err(Refusal::ReferenceMismatch { .. })));
    }

    #[test]
    fn outcomes_parse_from_their_names() {
        assert_eq!("failed".parse::<Verdict>(), Ok(Verdict::Failed));
        assert_eq!("succeeded".parse::<Verdict>(), Ok(Verdict::Succeeded));
        assert!("paid".parse::<Verdict>().is_err());
    }
}
