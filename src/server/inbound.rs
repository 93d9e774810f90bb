//! `POST /inbound/email`: one raw RFC 5322 message from a relay that forwards returning mail
//! over HTTP, behind `Authorization: Bearer [inbound] token` (off, 404, when it is empty).
//! Answers 200 when handled (also for a message handled before: nothing changes again), 202
//! when it was understood but there is nothing to do (or it is not for nurture), 401 without a
//! token, 403 with a wrong one, 503 when Redis failed or another process is handling the same
//! message (the relay retries).

use super::{AppState, auth};
use crate::inbound::{self, Outcome};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering;

/// What the bearer token is compared through.
const LABEL: &[u8] = b"nurture-inbound-v1";

pub(super) async fn email(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let ws = state.workspace.get();
    let token = ws.config.inbound.token.expose();
    if token.is_empty() {
        return super::not_found();
    }
    match auth::bearer(&headers) {
        None => return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "Unauthorized\n").into_response(),
        Some(given) if !auth::same_token(given, token, LABEL) => return (StatusCode::FORBIDDEN, "Forbidden\n").into_response(),
        Some(_) => {}
    }
    let handled = match inbound::handle(&state.store, &ws, &crate::clock::Clock::System, &body).await {
        Ok(h) => h,
        Err(e) => return super::unavailable(e),
    };
    state.metrics.inbound.fetch_add(1, Ordering::Relaxed);
    tracing::info!(kind = handled.kind.name(), outcome = ?handled.outcome, "inbound message (HTTP)");
    let status = match handled.outcome {
        Outcome::Applied | Outcome::Duplicate => StatusCode::OK,
        Outcome::Nothing | Outcome::Left => StatusCode::ACCEPTED,
        Outcome::Busy => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "60")],
                "Being handled, try again\n",
            )
                .into_response();
        }
    };
    let body = serde_json::json!({ "kind": handled.kind, "outcome": handled.outcome }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
