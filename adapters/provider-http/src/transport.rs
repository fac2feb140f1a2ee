//! Classifying a call that got no HTTP answer it could read, by whether it could have changed
//! money.

use gateway_adapter::AdapterError;

use crate::reason;
use crate::request::CallKind;

/// Why no answer came, or none that could be read, as the error metric's `kind` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportFailure {
    /// The connection (TCP or TLS handshake) was never made, or the request could not even
    /// be built: nothing was sent.
    Connect,
    /// The request or its answer took longer than the timeout.
    Timeout,
    /// The connection broke while the request or the answer was on the wire.
    Broken,
    /// The answer's body ran past [`crate::runner::MAX_ANSWER_BYTES`] and was not read to
    /// its end: a misdirected `base_url` or a faulty provider, never a provider's JSON.
    Oversized,
}

impl TransportFailure {
    /// Sorts a `reqwest` error. A connect error is checked first: a connect timeout also
    /// counts as a timeout, but nothing was sent.
    pub fn of(error: &reqwest::Error) -> Self {
        if error.is_connect() || error.is_builder() {
            TransportFailure::Connect
        } else if error.is_timeout() {
            TransportFailure::Timeout
        } else {
            TransportFailure::Broken
        }
    }

    /// The error metric's `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportFailure::Connect => "connect",
            TransportFailure::Timeout => "timeout",
            TransportFailure::Broken => "transport",
            TransportFailure::Oversized => "oversized",
        }
    }

    /// The error the dispatcher acts on. A failed connect sent nothing: transient
    /// `provider_unreachable` on any call. After that, a money-moving call may have been
    /// written and booked, so its outcome is unknown (only a status inquiry can tell); a read
    /// has no side effect, so it is transient (`provider_timeout` or `provider_unreachable`).
    /// An oversized answer came after the request was sent: unknown on a money-moving call,
    /// `provider_bad_answer` on a read (asking again is harmless).
    pub fn classify(self, kind: CallKind, message: String) -> AdapterError {
        match (self, kind.moves_money()) {
            (TransportFailure::Connect, _) => AdapterError::transient(reason::PROVIDER_UNREACHABLE, message),
            (_, true) => AdapterError::unknown(message),
            (TransportFailure::Timeout, false) => AdapterError::transient(reason::PROVIDER_TIMEOUT, message),
            (TransportFailure::Broken, false) => AdapterError::transient(reason::PROVIDER_UNREACHABLE, message),
            (TransportFailure::Oversized, false) => AdapterError::transient(reason::PROVIDER_BAD_ANSWER, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_money_moving_call_that_may_have_been_sent_is_an_unknown_outcome() {
        use CallKind::*;
        use TransportFailure::*;
        let transient = |error: AdapterError| match error {
            AdapterError::Transient { code, .. } => Some(code),
            _ => None,
        };
        assert_eq!(
            transient(Connect.classify(Submit, "m".into())).as_deref(),
            Some("provider_unreachable")
        );
        assert_eq!(
            transient(Connect.classify(StatusQuery, "m".into())).as_deref(),
            Some("provider_unreachable")
        );
        assert!(matches!(
            Timeout.classify(Submit, "m".into()),
            AdapterError::UnknownOutcome { .. }
        ));
        assert!(matches!(
            Broken.classify(Submit, "m".into()),
            AdapterError::UnknownOutcome { .. }
        ));
        assert_eq!(
            transient(Timeout.classify(NameInquiry, "m".into())).as_deref(),
            Some("provider_timeout")
        );
        assert_eq!(
            transient(Broken.classify(StatusQuery, "m".into())).as_deref(),
            Some("provider_unreachable")
        );
        assert!(matches!(
            Oversized.classify(Submit, "m".into()),
            AdapterError::UnknownOutcome { .. }
        ));
        assert_eq!(
            transient(Oversized.classify(StatusQuery, "m".into())).as_deref(),
            Some("provider_bad_answer")
        );
    }
}
