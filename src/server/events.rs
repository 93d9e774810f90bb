//! `POST /events`: responses, deals and stage changes from a CRM or a web form, as JSON — one event or an
//! array — behind `Authorization: Bearer [server] events_token` (off when it is empty).
//! Answers `{"recorded": n, "errors": [...]}`; a bad event does not stop the good ones.

use super::AppState;
use crate::events::{self, ContactEvent, EventError};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What the bearer token is compared through.
const LABEL: &[u8] = b"nurture-events-v1";

/// One event or many.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Batch {
    One(ContactEvent),
    Many(Vec<ContactEvent>),
}

pub(super) async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let ws = state.workspace.get();
    let token = ws.config.server.events_token.expose();
    if token.is_empty() {
        return super::not_found();
    }
    if !super::auth::bearer(&headers).is_some_and(|given| super::auth::same_token(given, token, LABEL)) {
        return (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
    }
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return json(StatusCode::BAD_REQUEST, 0, &[format!("not an event: {e}")]);
        }
    };
    let list = match batch {
        Batch::One(e) => vec![e],
        Batch::Many(v) => v,
    };
    let today = crate::clock::Clock::System.today(ws.config.sender_tz());
    let (mut recorded, mut errors) = (0, Vec::new());
    for (i, e) in list.iter().enumerate() {
        let pipeline = crate::contacts::pipeline::Pipeline::new(&ws.config.pipeline.stages);
        match events::record(&state.store, e, today, &ws.config.contacts.default_region, &pipeline).await {
            Ok(_) => recorded += 1,
            Err(EventError::Store(err)) => return super::unavailable(err),
            Err(err) => errors.push(format!("event {i}: {err}")),
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    json(status, recorded, &errors)
}

fn json(status: StatusCode, recorded: u64, errors: &[String]) -> Response {
    let body = serde_json::json!({ "recorded": recorded, "errors": errors }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
