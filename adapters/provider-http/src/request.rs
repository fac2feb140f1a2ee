//! What an adapter describes: one provider call, as data. The runner sends it.

use std::fmt;

pub use reqwest::Method;

/// What a call is for. It decides how a lost answer is classified (only a submit can move
/// money) and is the `operation` label of the latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// Sends a payout. Once any byte of it may have left, a lost answer is an unknown outcome.
    Submit,
    /// Asks for the account holder's name. A read: a lost answer is worth asking again.
    NameInquiry,
    /// Asks what became of a payout. A read.
    StatusQuery,
}

impl CallKind {
    /// True when the call can change money at the provider.
    pub fn moves_money(self) -> bool {
        matches!(self, CallKind::Submit)
    }

    /// The metric label (`submit`, `name_inquiry`, `status_query`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Submit => "submit",
            CallKind::NameInquiry => "name_inquiry",
            CallKind::StatusQuery => "status_query",
        }
    }
}

/// One provider call as an adapter describes it: method, path (appended to the provider's
/// base URL), headers and body bytes. It holds no client and sends nothing.
#[derive(Clone)]
pub struct ProviderRequest {
    pub(crate) kind: CallKind,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl ProviderRequest {
    /// A call without a body; `path` starts with `/`.
    pub fn new(kind: CallKind, method: Method, path: impl Into<String>) -> Self {
        Self {
            kind,
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `POST` of a JSON body (`Content-Type: application/json`).
    pub fn post_json(kind: CallKind, path: impl Into<String>, body: Vec<u8>) -> Self {
        Self::new(kind, Method::POST, path).json(body)
    }

    /// Sets the body, sent as `application/json`.
    pub fn json(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self.header("content-type", "application/json")
    }

    /// Adds a header. A value that is not a valid header value is refused by the runner
    /// before anything is sent (`invalid_request`).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn kind(&self) -> CallKind {
        self.kind
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// Never prints the body or header values: they carry account numbers, names and signatures.
impl fmt::Debug for ProviderRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRequest")
            .field("kind", &self.kind)
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "headers",
                &self.headers.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_submit_moves_money() {
        assert!(CallKind::Submit.moves_money());
        assert!(!CallKind::NameInquiry.moves_money());
        assert!(!CallKind::StatusQuery.moves_money());
    }

    #[test]
    fn debug_shows_neither_the_body_nor_header_values() {
        let request = ProviderRequest::post_json(CallKind::Submit, "/v1/transfers", b"{\"account\":\"0011\"}".to_vec())
            .header("x-signature", "deadbeef");
        let printed = format!("{request:?}");
        assert!(!printed.contains("0011") && !printed.contains("deadbeef"), "{printed}");
        assert!(
            printed.contains("x-signature") && printed.contains("/v1/transfers"),
            "{printed}"
        );
    }
}
