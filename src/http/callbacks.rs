//! `POST /callbacks/{provider}`: verify on the raw bytes first, then parse, deduplicate by
//! event id and apply — or refuse with a 4xx and change nothing.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gateway_adapter::{CallbackEvent, ProviderStatus};
use serde_json::json;

use super::AppState;
use crate::payment::PaymentState;
use crate::store::{CallbackDecision, CallbackOutcome, Change, PaymentRecord};

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
        return refuse(StatusCode::UNAUTHORIZED, error.code(), &error.to_string());
    }
    let event = match adapter.parse_callback(&headers, &body) {
        Ok(event) => event,
        Err(error) => {
            metrics::counter!("gateway_callbacks_total", "provider" => provider.clone(), "outcome" => error.code())
                .increment(1);
            return refuse(StatusCode::BAD_REQUEST, error.code(), &error.to_string());
        }
    };
    let poll_at = crate::store::now_ms() + state.pending_poll_after_ms as i64;
    let outcome = state
        .store
        .apply_callback(&provider, &event.event_id, event.payment_id.as_str(), |record| {
            decide(record, &event, poll_at)
        })
        .await;
    let label = match &outcome {
        Ok(CallbackOutcome::Applied(_)) => "applied",
        Ok(CallbackOutcome::Duplicate) => "duplicate",
        Ok(CallbackOutcome::UnknownPayment) => "unknown_payment",
        Ok(CallbackOutcome::Ignored(_)) => "ignored",
        Err(_) => "store_error",
    };
    metrics::counter!("gateway_callbacks_total", "provider" => provider.clone(), "outcome" => label).increment(1);
    match outcome {
        Ok(CallbackOutcome::UnknownPayment) => refuse(
            StatusCode::NOT_FOUND,
            "unknown_payment",
            "no payment has this reference",
        ),
        Ok(outcome) => {
            tracing::info!(%provider, payment_id = %event.payment_id, event_id = %event.event_id, outcome = ?outcome, "Took a callback.");
            state.relay_wake.notify_one();
            let status = StatusCode::from_u16(adapter.callback_ack_status()).unwrap_or(StatusCode::OK);
            if status == StatusCode::NO_CONTENT {
                status.into_response()
            } else {
                (status, Json(json!({ "code": "ok", "outcome": label }))).into_response()
            }
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

/// What a verified callback does to the payment. A callback never moves a payment out of a
/// final state, and one that contradicts the record (another amount, a result for a
/// payment that was never sent) sends it to `needs_review` instead of to success.
pub fn decide(record: &PaymentRecord, event: &CallbackEvent, poll_at: i64) -> CallbackDecision {
    let contradiction = |why: &str| {
        CallbackDecision::Apply(
            Change::to(PaymentState::NeedsReview, format!("callback {}: {why}", event.event_id)).reason(
                "callback_contradicts_record",
                format!("a verified provider callback contradicts the gateway's record: {why}"),
            ),
        )
    };
    let amount_differs = event.amount.is_some_and(|amount| amount.as_i64() != record.amount);
    if record.state.is_final() {
        let agrees = matches!(
            (&event.status, record.state),
            (ProviderStatus::Succeeded { .. }, PaymentState::Succeeded)
                | (ProviderStatus::Failed { .. }, PaymentState::Failed)
        );
        if !agrees || amount_differs {
            metrics::counter!("gateway_callbacks_contradicting_final_total").increment(1);
            tracing::error!(payment_id = %record.payment_id, state = %record.state, event_id = %event.event_id, "A verified callback contradicts a final payment; it is recorded and needs a person.");
            return CallbackDecision::Flag(format!(
                "callback {} reports {} on a {} payment; the payment stays as it is, check with the provider",
                event.event_id,
                status_name(&event.status),
                record.state
            ));
        }
        return CallbackDecision::Ignore;
    }
    if amount_differs {
        return contradiction("the amount differs from the order");
    }
    let target = match &event.status {
        ProviderStatus::Succeeded { .. } => PaymentState::Succeeded,
        ProviderStatus::Failed { .. } => PaymentState::Failed,
        ProviderStatus::Pending { .. } if record.state == PaymentState::Pending => return CallbackDecision::Ignore,
        ProviderStatus::Pending { .. } => PaymentState::Pending,
        ProviderStatus::NotFound => return CallbackDecision::Ignore,
    };
    if record.state == PaymentState::NeedsReview {
        return CallbackDecision::Ignore;
    }
    if record.submitted_at.is_none() || !record.state.can_become(target) {
        return contradiction("the provider reports on a payment that was never sent");
    }
    let detail = format!("callback {}", event.event_id);
    CallbackDecision::Apply(match &event.status {
        ProviderStatus::Succeeded { provider_ref } => Change {
            provider_ref: provider_ref.clone(),
            ..Change::to(target, detail)
        },
        ProviderStatus::Failed { code, reason } => Change::to(target, detail).reason(code.clone(), reason.clone()),
        ProviderStatus::Pending { provider_ref } => Change {
            provider_ref: provider_ref.clone(),
            ..Change::to(target, detail).at(poll_at)
        },
        ProviderStatus::NotFound => return CallbackDecision::Ignore,
    })
}

fn status_name(status: &ProviderStatus) -> &'static str {
    match status {
        ProviderStatus::Pending { .. } => "pending",
        ProviderStatus::Succeeded { .. } => "succeeded",
        ProviderStatus::Failed { .. } => "failed",
        ProviderStatus::NotFound => "not found",
    }
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}
