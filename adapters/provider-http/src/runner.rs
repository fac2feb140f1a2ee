//! `ProviderRunner`: sends the requests adapters describe, times them, and classifies what
//! went wrong the same way for every provider. Adapters keep only their wire format.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use gateway_adapter::protection::{ProviderGuard, CIRCUIT_OPEN};
use gateway_adapter::AdapterError;
use reqwest::header::{HeaderName, HeaderValue, RETRY_AFTER};

use crate::client::{build_client, refuse_tls_over_plain_http, ClientError};
use crate::metrics;
use crate::reason;
use crate::request::ProviderRequest;
use crate::response::{is_provider_failure, ProviderResponse};
use crate::retry_after::parse_retry_after;
use crate::settings::ClientSettings;
use crate::transport::TransportFailure;

/// The longest answer body read, 1 MiB. A provider's JSON answer is a few kilobytes; a body
/// past this is a misdirected `base_url` (a download, a web page) or a faulty provider, and
/// reading it whole would let one endpoint make each of the calls the gateway runs at once
/// hold as much memory as it cares to stream. Past it the call fails
/// ([`TransportFailure::Oversized`]).
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// One provider's HTTP edge. Cheap to clone (the client's pool is shared); one per provider
/// key, built at start-up. It sends each request once: retries belong to the dispatcher.
#[derive(Clone, Debug)]
pub struct ProviderRunner {
    /// The provider key (`bank_transfer`, `viettel_money`, …): metric label and error text.
    provider: Arc<str>,
    /// The provider's base URL without a trailing slash; request paths are appended.
    base_url: String,
    /// One pooled client per provider, so one provider's connections and TLS identity are
    /// never used for another.
    client: reqwest::Client,
    /// The longest `Retry-After` handed on to the dispatcher.
    retry_after_max: Duration,
    /// PROTECTION INTEGRATION POINT: the provider's rate limit and circuit breaker, asked
    /// before every send and told how the provider answered. Built from the section's
    /// `[providers.<key>.protection]` table, or given with [`ProviderRunner::with_guard`];
    /// `None` (no table) sends unguarded.
    guard: Option<Arc<ProviderGuard>>,
}

impl ProviderRunner {
    /// The runner for `provider` at `base_url` (`http(s)://`, trailing slash ignored). TLS
    /// files with an `http://` base URL are refused ([`refuse_tls_over_plain_http`]).
    pub fn new(provider: &str, base_url: &str, settings: &ClientSettings) -> Result<Self, ClientError> {
        let (base_url, parsed) = gateway_adapter::normalise_base_url(base_url)
            .and_then(|url| reqwest::Url::parse(&url).ok().map(|parsed| (url, parsed)))
            .ok_or_else(|| ClientError::BadBaseUrl {
                provider: provider.to_string(),
            })?;
        refuse_tls_over_plain_http(provider, &parsed, &settings.tls)?;
        let guard = settings
            .protection
            .clone()
            .map(|protection| Arc::new(ProviderGuard::new(provider, protection)));
        Ok(Self {
            provider: provider.into(),
            base_url,
            client: build_client(provider, settings)?,
            retry_after_max: settings.retry_after_max,
            guard,
        })
    }

    /// Sends through `guard` from now on (replacing one built from config): for a guard the
    /// gateway builds and shares itself. One guard per provider key.
    pub fn with_guard(mut self, guard: Arc<ProviderGuard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// The provider key this runner sends to.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The guard calls go through, if any.
    pub fn guard(&self) -> Option<&Arc<ProviderGuard>> {
        self.guard.as_ref()
    }

    /// How long the provider's circuit breaker will refuse every call unsent: `Some` only
    /// while it is open; `None` when it is closed or half-open, or the runner has no guard.
    /// Cheap enough for every dispatcher tick (one short lock). Adapters answer
    /// `PayoutAdapter::unavailable_for` with it.
    pub fn unavailable_for(&self) -> Option<Duration> {
        self.guard.as_ref().and_then(|guard| guard.unavailable_for())
    }

    /// Sends `request` once and returns the provider's answer, whatever its HTTP status.
    ///
    /// Errors: a header value that cannot be sent is `Permanent invalid_request`; an open
    /// circuit breaker is `Transient circuit_open` with a `retry_after` (nothing was sent
    /// either way). A call that got no answer is classified by [`TransportFailure::classify`]:
    /// `provider_unreachable` when the connection failed, an unknown outcome when a submit
    /// may have been written, `provider_timeout` / `provider_unreachable` on a read. An answer
    /// whose body runs past [`MAX_ANSWER_BYTES`] is not read to its end: an unknown outcome on
    /// a submit, `provider_bad_answer` on a read.
    pub async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, AdapterError> {
        let kind = request.kind;
        let what = format!("{} {}", request.method, request.path);
        let outgoing = self.prepare(request)?;
        // Waiting for the rate limit happens here, before the clock starts.
        let admission = match &self.guard {
            Some(guard) => Some(guard.admit().await.inspect_err(|refusal| {
                if matches!(refusal, AdapterError::Transient { code, .. } if code == CIRCUIT_OPEN) {
                    metrics::count_error(&self.provider, "circuit_open");
                }
            })?),
            None => None,
        };
        let started = Instant::now();
        let answer = self.exchange(outgoing).await;
        metrics::record_duration(&self.provider, kind, started.elapsed());
        if let Some(admission) = admission {
            // 5xx, 429, 408 and transport errors count against the provider; any other
            // answer, a business refusal included, is the provider working.
            admission.record(matches!(&answer, Ok(response) if !is_provider_failure(response.status)));
        }
        match answer {
            Ok(response) => {
                if let Some(error_kind) = metrics::status_error_kind(response.status) {
                    metrics::count_error(&self.provider, error_kind);
                }
                Ok(response)
            }
            Err(lost) => {
                let failure = lost.failure();
                metrics::count_error(&self.provider, failure.as_str());
                Err(failure.classify(kind, lost.message(&self.provider, &what)))
            }
        }
    }

    /// The `reqwest` request for a description; refuses headers that cannot be sent.
    fn prepare(&self, request: ProviderRequest) -> Result<reqwest::RequestBuilder, AdapterError> {
        let url = format!("{}{}", self.base_url, request.path);
        let mut builder = self.client.request(request.method, url);
        for (name, value) in request.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .ok()
                .zip(HeaderValue::from_str(&value).ok());
            let Some((name_ok, value_ok)) = header else {
                return Err(AdapterError::permanent(
                    reason::INVALID_REQUEST,
                    format!(
                        "The {name} header for {} cannot be sent as written; nothing was sent.",
                        self.provider
                    ),
                ));
            };
            builder = builder.header(name_ok, value_ok);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        Ok(builder)
    }

    /// Sends and reads the whole answer, up to [`MAX_ANSWER_BYTES`].
    async fn exchange(&self, outgoing: reqwest::RequestBuilder) -> Result<ProviderResponse, Lost> {
        let response = outgoing.send().await.map_err(Lost::Transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now(), self.retry_after_max));
        let body = read_body(response).await?;
        Ok(ProviderResponse {
            status,
            retry_after,
            body,
        })
    }
}

/// Why [`ProviderRunner::exchange`] has no answer to hand back.
#[derive(Debug)]
enum Lost {
    /// No answer: connect, timeout, broken connection.
    Transport(reqwest::Error),
    /// An answer whose body ran past [`MAX_ANSWER_BYTES`].
    Oversized,
}

impl Lost {
    fn failure(&self) -> TransportFailure {
        match self {
            Lost::Transport(error) => TransportFailure::of(error),
            Lost::Oversized => TransportFailure::Oversized,
        }
    }

    /// The error message; never quotes the body (it may hold personal data).
    fn message(&self, provider: &str, what: &str) -> String {
        match self {
            Lost::Transport(error) => format!("{provider} did not answer {what}: {}", chain(error)),
            Lost::Oversized => format!(
                "{provider} answered {what} with a body of more than {MAX_ANSWER_BYTES} bytes, which was not \
                 read to its end: no provider answer is that long (is base_url right?)"
            ),
        }
    }
}

/// The body, chunk by chunk as it arrives, refused as soon as it runs past
/// [`MAX_ANSWER_BYTES`]: a declared `Content-Length` only sizes the buffer (capped), since a
/// chunked body declares none and a faulty server may lie.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, Lost> {
    let declared = response
        .content_length()
        .and_then(|length| usize::try_from(length).ok())
        .unwrap_or(0);
    let mut body = Vec::with_capacity(declared.min(MAX_ANSWER_BYTES));
    while let Some(chunk) = response.chunk().await.map_err(Lost::Transport)? {
        if chunk.len() > MAX_ANSWER_BYTES - body.len() {
            return Err(Lost::Oversized);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error and its causes, `: `-separated: reqwest's own text ("error sending request")
/// does not say whether the connection was refused or the certificate was.
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
