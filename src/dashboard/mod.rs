//! The ops dashboard: a read-only page on the gateway's own listener, behind a bearer token.
//!
//! - `GET /ops` serves the page itself — HTML, no data — with `/ops/dashboard.js` and
//!   `/ops/dashboard.css`; a strict Content-Security-Policy lets it talk to this gateway only.
//! - `GET /ops/api/summary` answers the figures as JSON ([`summary`]) to a request with
//!   `Authorization: Bearer <dashboard.token>`, and 401 to anything else.
//! - The page gets the token from the address fragment once (`/ops#token=…`: a fragment is
//!   never sent to the server, so it stays out of access logs and `Referer` headers), or from
//!   a form; it keeps it in the tab's `sessionStorage`, removes it from the address bar, and
//!   sends it as the bearer header on every refresh.
//!
//! The routes exist only when `dashboard.token` is set ([`DashboardSettings::enabled`]).

pub mod auth;
pub mod batches;
pub mod dlq_look;
pub mod provider_health;
pub mod reuse;
pub mod settings;
pub mod summary;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub use settings::DashboardSettings;

use crate::amqp::links::BrokerLinks;
use crate::providers::Adapters;
use crate::store::Store;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("dashboard.js");
const STYLE: &str = include_str!("dashboard.css");

/// The page may load its own script and style and call this gateway, nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What the dashboard's handlers share.
#[derive(Clone)]
pub struct DashboardState {
    pub store: Store,
    pub adapters: Adapters,
    pub settings: Arc<DashboardSettings>,
    token: auth::TokenCheck,
    dlq: Arc<dlq_look::DlqWatch>,
    /// The batches in progress, the payment counts and the payments in review, each read at
    /// most once per `batches.check_interval_ms` for every viewer together.
    batches: Arc<reuse::Reuse<batches::Batches>>,
    counts: Arc<reuse::Reuse<Vec<crate::store::StateChannelCount>>>,
    review: Arc<reuse::Reuse<crate::store::PaymentListing>>,
    /// How long the summary waits for its parts, read side by side (see
    /// [`crate::http::health::store_answer_within`]): the store's readings, the DLQ look (also
    /// within a bound of its own) and the batches.
    store_within: std::time::Duration,
    /// Whether this gateway's parts run, and whether it takes orders and sends results (what
    /// `/readyz/orders` reads).
    readiness: crate::supervise::Readiness,
    links: BrokerLinks,
}

/// The dashboard's routes, or `None` when it is off (no token): from the gateway's settings
/// (`[dashboard]`, the broker to look at the DLQ on, how often batches are read, the request
/// timeout its store reads stay within). Fails on invalid settings.
pub fn router(
    gateway: &crate::config::Settings,
    store: Store,
    adapters: Adapters,
    readiness: crate::supervise::Readiness,
    links: BrokerLinks,
) -> anyhow::Result<Option<Router>> {
    let (settings, amqp) = (&gateway.dashboard, &gateway.amqp);
    let batch_refresh = std::time::Duration::from_millis(gateway.batches.check_interval_ms);
    let store_within = crate::http::health::store_answer_within(gateway.http.request_timeout_ms);
    settings.validate()?;
    let Some(token) = &settings.token else {
        return Ok(None);
    };
    let state = DashboardState {
        store,
        adapters,
        settings: Arc::new(settings.clone()),
        token: auth::TokenCheck::new(token),
        dlq: Arc::new(dlq_look::DlqWatch::new(
            amqp.clone(),
            settings.dlq_peek_max,
            settings.dlq_refresh(),
        )),
        batches: Arc::new(reuse::Reuse::new(batch_refresh)),
        counts: Arc::new(reuse::Reuse::new(batch_refresh)),
        review: Arc::new(reuse::Reuse::new(batch_refresh)),
        store_within,
        readiness,
        links,
    };
    Ok(Some(
        Router::new()
            .route("/ops", get(page))
            .route("/ops/dashboard.js", get(script))
            .route("/ops/dashboard.css", get(style))
            .route("/ops/api/summary", get(api_summary))
            .with_state(state),
    ))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    let mut response = asset("text/html; charset=utf-8", PAGE);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    response
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn api_summary(State(state): State<DashboardState>, headers: HeaderMap) -> Response {
    if !state.token.allows(&headers) {
        return auth::unauthorized();
    }
    match summary::build(&state).await {
        Ok(summary) => ([(header::CACHE_CONTROL, "no-store")], Json(summary)).into_response(),
        Err(error) => {
            tracing::warn!(%error, "The dashboard could not read the store.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"error":"store_unavailable","message":"The store does not answer; the figures will come back when it does."}"#,
            )
                .into_response()
        }
    }
}
