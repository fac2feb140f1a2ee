//! `POST /callbacks/{provider}`: verify on the raw bytes first, then parse, deduplicate by
//! event id and apply — or refuse with a 4xx and change nothing.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gateway_adapter::CallbackError;
use serde_json::json;

use super::AppState;
use crate::payment::callback::{decide, CallbackTimes};
use crate::store::{CallbackOutcome, StoreError};

pub async fn receive(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(adapter) = state.adapters.get(&provider).cloned() else {
        return refuse(
            StatusCode::NOT_FOUND,
            "unknown_provider",
            "no provider is configured under this name",
        );
    };
    let now = chrono::Utc::now().timestamp();
    if let Err(error) = adapter.verify_callback(&headers, &body, now) {
        metrics::counter!("gateway_callbacks_total", "provider" => provider.clone(), "outcome" => error.code())
            .increment(1);
        tracing::warn!(%provider, code = error.code(), "Refused a callback that did not verify.");
        // A body or header that cannot even be read is bad input (400), as when parsing;
        // a missing, wrong or stale signature is not authenticated (401).
        let status = match error {
            CallbackError::Malformed(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        };
        return refuse(status, error.code(), &error.to_string());
    }
    let event = match adapter.parse_callback(&headers, &body) {
        Ok(event) => event,
        Err(error) => {
            metrics::counter!("gateway_callbacks_total", "provider" => provider.clone(), "outcome" => error.code())
                .increment(1);
            return refuse(StatusCode::BAD_REQUEST, error.code(), &error.to_string());
        }
    };
    let now = crate::store::now_ms();
    let times = CallbackTimes {
        poll_at: now + state.pending_poll_after_ms as i64,
        review_at: now + state.review_inquiry_after_ms as i64,
    };
    // Applied on a task of its own, and waited for like `/readyz` waits for the store: with
    // PostgreSQL gone the pool tries for a connection for longer than the request may take, and
    // the provider got a bare 408 instead of the 503 below. A write still queued when the wait
    // gives up commits after the 503, and what follows its commit (ops told of a reversal, the
    // metrics, the relay woken) still runs on that task; the provider's next copy is then a
    // duplicate (its event id is kept with the write), answered as one.
    let applying = tokio::spawn(apply(state.clone(), provider.clone(), event.clone(), times));
    let outcome = match tokio::time::timeout(state.store_answer_within, applying).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(failed)) => {
            tracing::error!(%provider, error = %failed, "Applying a callback did not finish.");
            Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut))
        }
        Err(_) => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
    };
    let label = outcome.as_ref().map_or("store_error", outcome_label);
    match outcome {
        // Another provider's payment is refused as unknown: a provider learns nothing of the
        // payments it did not send.
        Ok(CallbackOutcome::UnknownPayment | CallbackOutcome::ForAnotherProvider) => refuse(
            StatusCode::NOT_FOUND,
            "unknown_payment",
            "no payment has this reference",
        ),
        Ok(outcome) => {
            tracing::info!(%provider, payment_id = %event.payment_id, event_id = %event.event_id, outcome = ?outcome, "Took a callback.");
            let status = StatusCode::from_u16(adapter.callback_ack_status()).unwrap_or(StatusCode::OK);
            if status == StatusCode::NO_CONTENT {
                status.into_response()
            } else {
                let mut body = adapter.callback_ack_fields();
                body.insert("code".to_string(), json!("ok"));
                body.insert("outcome".to_string(), json!(label));
                (status, Json(body)).into_response()
            }
        }
        Err(StoreError::Unstorable(error)) => {
            // Sending it again would be refused again: a 4xx stops the provider's retries.
            tracing::error!(%provider, %error, "The store refuses this callback's data; it is refused for good.");
            refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unstorable_callback",
                "the callback holds a value the gateway cannot store",
            )
        }
        Err(error) => {
            tracing::error!(%provider, %error, "Could not store a callback; the provider should send it again.");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the callback could not be stored; send it again",
            )
        }
    }
}

/// Writes one verified callback and does what follows its commit: the metrics, and the relay
/// woken for the result it may have written.
async fn apply(
    state: AppState,
    provider: String,
    event: gateway_adapter::CallbackEvent,
    times: CallbackTimes,
) -> Result<CallbackOutcome, StoreError> {
    let decided = event.clone();
    let outcome = state
        .store
        .apply_callback(&provider, &event.event_id, event.payment_id.as_str(), move |record| {
            decide(record, &decided, times)
        })
        .await;
    let label = outcome.as_ref().map_or("store_error", outcome_label);
    metrics::counter!("gateway_callbacks_total", "provider" => provider, "outcome" => label).increment(1);
    if let Ok(CallbackOutcome::Applied(to)) = &outcome {
        // A change a callback made is a transition as much as one the dispatcher made.
        metrics::counter!("gateway_payment_transitions_total", "to" => to.as_str()).increment(1);
    }
    if outcome.is_ok() {
        state.relay_wake.notify_one();
    }
    outcome
}

/// The `outcome` label of `gateway_callbacks_total`, and the answer's `outcome` field.
fn outcome_label(outcome: &CallbackOutcome) -> &'static str {
    match outcome {
        CallbackOutcome::Applied(_) => "applied",
        CallbackOutcome::Duplicate => "duplicate",
        CallbackOutcome::UnknownPayment => "unknown_payment",
        CallbackOutcome::ForAnotherProvider => "for_another_provider",
        CallbackOutcome::Ignored(_) => "ignored",
        CallbackOutcome::Reversal(_) => "reversal",
    }
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}
