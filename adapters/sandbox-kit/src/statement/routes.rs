//! The statement admin routes: set a provider's statement faults, and fetch its statement
//! file for a Vietnam day.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::{vietnam_date, Statement, StatementFaults};
use crate::admin::SharedKit;

/// `?date=YYYY-MM-DD` (a Vietnam calendar day); today in Vietnam when left out.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    pub date: Option<NaiveDate>,
}

fn no_statement(provider: &str) -> Response {
    let body = serde_json::json!({
        "error_code": "no_statement_writer",
        "message": format!("The sandbox has no provider `{provider}` that writes statements."),
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// `GET /sandbox/statements/{provider}?date=YYYY-MM-DD`: the provider's statement file for
/// that day, in its own format, with its faults applied.
pub async fn statement(
    State(kit): State<SharedKit>,
    Path(provider): Path<String>,
    Query(query): Query<StatementQuery>,
) -> Response {
    let Some(writer) = kit.statements.writer(&provider) else {
        return no_statement(&provider);
    };
    let now = Utc::now();
    let date = query.date.unwrap_or_else(|| vietnam_date(now));
    let faults = kit.statements.faults(&provider);
    let statement = Statement::build(&provider, date, &kit.ledger.entries(), &faults, now);
    let disposition = format!("attachment; filename=\"{}\"", writer.file_name(&statement));
    (
        [
            (header::CONTENT_TYPE, writer.media_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        writer.write(&statement),
    )
        .into_response()
}

/// `PUT /sandbox/statement-faults/{provider}`: replaces the provider's statement faults.
/// Extra credits without a date are dated today (Vietnam time). Answers the faults as stored.
pub async fn set_faults(
    State(kit): State<SharedKit>,
    Path(provider): Path<String>,
    Json(faults): Json<StatementFaults>,
) -> Json<StatementFaults> {
    let faults = faults.dated(vietnam_date(Utc::now()));
    kit.statements.set_faults(&provider, faults);
    Json(kit.statements.faults(&provider))
}

/// `GET /sandbox/statement-faults/{provider}`.
pub async fn get_faults(State(kit): State<SharedKit>, Path(provider): Path<String>) -> Json<StatementFaults> {
    Json(kit.statements.faults(&provider))
}
