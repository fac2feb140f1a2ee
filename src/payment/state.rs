//! Payment states and the one place that says which transitions are legal.

use std::fmt;
use std::str::FromStr;

use super::result::ResultStatus;

/// Where a payment stands. The store holds it; the dispatcher and callbacks move it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentState {
    /// Claimed from the queue, not yet sent.
    Accepted,
    /// About to be sent, or being sent. Written *before* the HTTP call, so a crash here is
    /// found later and resolved by a status inquiry, never by a blind resend.
    Submitting,
    /// The provider accepted it and has not finished.
    Pending,
    /// Sent, but no answer came back; only an inquiry may tell what happened.
    Unknown,
    /// A transient error; sent again (same key) at `next_attempt_at`.
    RetryScheduled,
    Succeeded,
    Failed,
    /// Refused by the gateway's own rules before anything was sent.
    Rejected,
    /// Needs a person: an outcome that stayed unknown, or a callback that contradicts the record.
    NeedsReview,
}

impl PaymentState {
    pub const ALL: [PaymentState; 9] = [
        PaymentState::Accepted,
        PaymentState::Submitting,
        PaymentState::Pending,
        PaymentState::Unknown,
        PaymentState::RetryScheduled,
        PaymentState::Succeeded,
        PaymentState::Failed,
        PaymentState::Rejected,
        PaymentState::NeedsReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Accepted => "accepted",
            PaymentState::Submitting => "submitting",
            PaymentState::Pending => "pending",
            PaymentState::Unknown => "unknown",
            PaymentState::RetryScheduled => "retry_scheduled",
            PaymentState::Succeeded => "succeeded",
            PaymentState::Failed => "failed",
            PaymentState::Rejected => "rejected",
            PaymentState::NeedsReview => "needs_review",
        }
    }

    /// Final states never change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PaymentState::Succeeded | PaymentState::Failed | PaymentState::Rejected
        )
    }

    /// The status upstream sees for this state, if upstream is told about it at all:
    /// `submitting`, `unknown` and `retry_scheduled` are the gateway's own business.
    pub fn published_as(self) -> Option<ResultStatus> {
        match self {
            PaymentState::Accepted => Some(ResultStatus::Accepted),
            PaymentState::Pending => Some(ResultStatus::Pending),
            PaymentState::Succeeded => Some(ResultStatus::Succeeded),
            PaymentState::Failed => Some(ResultStatus::Failed),
            PaymentState::Rejected => Some(ResultStatus::Rejected),
            PaymentState::NeedsReview => Some(ResultStatus::NeedsReview),
            PaymentState::Submitting | PaymentState::Unknown | PaymentState::RetryScheduled => None,
        }
    }

    /// Whether `self → to` is a legal move. Staying in a non-final state is legal (a poll
    /// that finds nothing new, another inquiry); leaving a final state never is.
    pub fn can_become(self, to: PaymentState) -> bool {
        use PaymentState::*;
        if self.is_final() {
            return false;
        }
        matches!(
            (self, to),
            (_, NeedsReview)
                | (Accepted, Submitting | Failed | RetryScheduled | Rejected)
                // A retry may follow a submit the provider booked after all (a 5xx from a
                // proxy in front of it), so everything an answer can say stays possible.
                | (RetryScheduled, Submitting | Failed | RetryScheduled | Rejected | Unknown | Pending | Succeeded)
                | (Submitting, Submitting | Pending | Succeeded | Failed | Unknown | RetryScheduled)
                | (Unknown, Submitting | Pending | Succeeded | Failed | Unknown)
                | (Pending, Pending | Succeeded | Failed)
                | (NeedsReview, Succeeded | Failed)
        )
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PaymentState {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == value)
            .ok_or_else(|| format!("unknown payment state `{value}` in the store"))
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentState::*;
    use super::*;

    #[test]
    fn final_states_never_change() {
        for from in [Succeeded, Failed, Rejected] {
            for to in PaymentState::ALL {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn an_unknown_outcome_is_never_failed_without_an_inquiry_path() {
        assert!(Submitting.can_become(Unknown));
        assert!(Unknown.can_become(Submitting));
        assert!(!Accepted.can_become(Succeeded));
        assert!(!Accepted.can_become(Pending));
    }

    #[test]
    fn every_move_the_dispatcher_and_callbacks_make_is_legal() {
        // (from, to) pairs produced by payment/lifecycle.rs and payment/callback.rs.
        let moves = [
            (Accepted, Failed),           // name mismatch, wallet limit, permanent refusal
            (Accepted, RetryScheduled),   // name inquiry failed
            (Accepted, Submitting),       // send
            (RetryScheduled, Submitting), // retry
            (RetryScheduled, Unknown),    // attempts ran out after a submit
            (RetryScheduled, Failed),     // attempts ran out before any submit
            (RetryScheduled, Succeeded),  // a callback for an earlier, booked submit
            (RetryScheduled, Pending),    // the same, still processing
            (Submitting, Pending),        // submit answered
            (Submitting, Succeeded),
            (Submitting, Failed),
            (Submitting, Unknown),        // timeout after send
            (Submitting, RetryScheduled), // transient error
            (Submitting, Submitting),     // found after a crash, inquiry says not found: resend
            (Unknown, Submitting),        // inquiry says not found: resend
            (Unknown, Unknown),           // inquiry failed
            (Unknown, Pending),
            (Unknown, Succeeded),
            (Unknown, Failed),
            (Pending, Pending), // poll, nothing new
            (Pending, Succeeded),
            (Pending, Failed),
            (Pending, NeedsReview), // provider lost it, or a contradicting callback
            (Unknown, NeedsReview), // inquiries ran out
        ];
        for (from, to) in moves {
            assert!(from.can_become(to), "{from} -> {to} must be allowed");
        }
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for state in PaymentState::ALL {
            assert_eq!(state.as_str().parse::<PaymentState>(), Ok(state));
        }
    }
}
