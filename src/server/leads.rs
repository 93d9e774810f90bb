//! `POST /leads`: the one entry point of new leads — JSON, one lead or an array, each source
//! with its own bearer key (`[leads.sources.NAME] key`) that posts only that source's leads;
//! `Idempotency-Key` answered from the first answer for 24 h; a per-key rate limit
//! (`[leads] per_minute`). The rules of a lead are [`crate::leads`]'s.

use super::AppState;
use crate::leads::{self, Lead, Taken};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What source keys are compared through.
const LABEL: &[u8] = b"nurture-leads-v1";

/// How long an `Idempotency-Key` answer is kept.
const IDEMPOTENCY_SECS: u64 = 24 * 3600;

/// Not yet answered (a post with the same key is being handled).
const PENDING: &str = "pending";

pub(super) async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let ws = state.workspace.get();
    let Some(given) = super::auth::bearer(&headers) else {
        return unauthorized();
    };
    let Some(source) = ws.config.leads.sources.iter().find_map(|(name, s)| {
        let key = s.key.expose();
        (!key.is_empty() && super::auth::same_token(given, key, LABEL)).then(|| name.clone())
    }) else {
        return unauthorized();
    };
    match over_limit(&state, &source, ws.config.leads.per_minute).await {
        Ok(true) => return too_many(),
        Ok(false) => {}
        Err(e) => return super::unavailable(e),
    }
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .map(|k| state.store.keys.lead_answer(&source, k));
    if let Some(key) = &idem {
        match state.store.claim_answer(key, PENDING, IDEMPOTENCY_SECS).await {
            Ok(None) => {}
            Ok(Some(stored)) if stored == PENDING => {
                return (StatusCode::CONFLICT, "a post with this Idempotency-Key is being handled\n").into_response();
            }
            Ok(Some(stored)) => return replay(&stored),
            Err(e) => return super::unavailable(e),
        }
    }
    let (status, body) = match handle(&state, &source, &body).await {
        Ok(answer) => answer,
        Err(e) => {
            if let Some(key) = &idem {
                let _ = state.store.unlock(key).await;
            }
            return super::unavailable(e);
        }
    };
    if let Some(key) = &idem {
        let stored = serde_json::json!({ "status": status.as_u16(), "body": body }).to_string();
        if let Err(e) = state.store.keep_answer(key, &stored, IDEMPOTENCY_SECS).await {
            return super::unavailable(e);
        }
    }
    respond(status, &body)
}

/// The answer to a body of one lead or many.
async fn handle(state: &AppState, source: &str, body: &[u8]) -> Result<(StatusCode, serde_json::Value), crate::store::StoreError> {
    let ws = state.workspace.get();
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let errors = serde_json::json!({ "errors": { "body": format!("not JSON: {e}") } });
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, errors));
        }
    };
    let (many, items) = match value {
        serde_json::Value::Array(items) => (true, items),
        one => (false, vec![one]),
    };
    let plans = ws.plans.keys().cloned().collect();
    let today = crate::clock::Clock::System.today(ws.config.sender_tz());
    let parsed: Vec<Result<Lead, String>> = items
        .into_iter()
        .map(|item| serde_json::from_value::<Lead>(item).map_err(|e| e.to_string()))
        .collect();
    // A key posts its own source's leads only: another source refuses the whole post.
    if let Some(other) = parsed.iter().flatten().find_map(|l| l.source.as_deref().filter(|s| *s != source)) {
        let errors = serde_json::json!({ "errors": { "source": format!("this key posts leads of {source:?}, not {other:?}") } });
        return Ok((StatusCode::FORBIDDEN, errors));
    }
    let mut answers = Vec::new();
    for lead in parsed {
        let taken = match lead {
            Ok(lead) => leads::take(&state.store, &ws.config, &plans, (source, leads::Sender::Trusted), &lead, today).await?,
            Err(e) => Taken::Invalid {
                errors: [(field_of(&e), e)].into(),
            },
        };
        answers.push(taken);
    }
    let status = if answers.iter().any(|a| matches!(a, Taken::Invalid { .. })) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if answers.iter().any(|a| matches!(a, Taken::Stored { created: true, .. })) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = if many {
        serde_json::to_value(&answers)
    } else {
        serde_json::to_value(&answers[0])
    };
    Ok((status, body.unwrap_or_default()))
}

/// The field a JSON error is about (`unknown field `x``, `invalid type ... for `email``).
fn field_of(message: &str) -> String {
    message.split('`').nth(1).filter(|f| !f.contains(' ')).unwrap_or("body").to_string()
}

/// True when `who` posted more than `limit` times this minute.
pub(super) async fn over_limit(state: &AppState, who: &str, limit: u32) -> Result<bool, crate::store::StoreError> {
    let minute = crate::clock::Clock::System.unix() / 60;
    let n = state.store.count_in(&state.store.keys.lead_rate(who, minute), 120).await?;
    Ok(n > u64::from(limit))
}

fn respond(status: StatusCode, body: &serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], format!("{body}\n")).into_response()
}

fn replay(stored: &str) -> Response {
    let v: serde_json::Value = serde_json::from_str(stored).unwrap_or_default();
    let status = v["status"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    respond(status, &v["body"])
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "Unauthorized: Authorization: Bearer <the key of a [leads.sources.NAME]>\n",
    )
        .into_response()
}

pub(super) fn too_many() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "60")],
        "Too many leads this minute\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_errors_name_their_field() {
        assert_eq!(super::field_of("unknown field `emial`, expected one of ..."), "emial");
        assert_eq!(super::field_of("expected value at line 1"), "body");
    }
}
