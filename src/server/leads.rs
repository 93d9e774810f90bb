//! `POST /leads`: the one entry point of new leads — JSON, one lead or an array, each source
//! with its own bearer key (`[leads.sources.NAME] key`) that posts only that source's leads;
//! `Idempotency-Key` answered from the first answer for 24 h (also when the request itself
//! timed out: the post is handled to its end on a task of its own); a budget of leads per
//! minute per key (`[leads] per_minute`, taken whole or not at all) and a cap of leads per post
//! (`[leads] max_per_request`). The rules of a lead are [`crate::leads`]'s.

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

/// How long a key reads [`PENDING`] at most: a post still handled after its request timed out
/// replaces it with its answer; one whose process died frees its key after this long.
const PENDING_SECS: u64 = 300;

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
    let (many, items) = match parse(&body) {
        Ok(parsed) => parsed,
        Err(errors) => return respond(StatusCode::UNPROCESSABLE_ENTITY, &errors),
    };
    let (count, cap) = (items.len() as u64, u64::from(ws.config.leads.max_per_request));
    if count > cap {
        let errors = serde_json::json!({ "errors": { "body": format!(
            "{count} leads in one post; at most {cap} ([leads] max_per_request): send them in smaller posts, or import a file (`nurture import`)"
        ) } });
        return respond(StatusCode::PAYLOAD_TOO_LARGE, &errors);
    }
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .map(|k| state.store.keys.lead_answer(&source, k));
    // Everything that writes runs on a task of its own: a request that runs out of time (408)
    // still finishes, and its Idempotency-Key then answers the real result.
    let per_minute = u64::from(ws.config.leads.per_minute);
    match tokio::spawn(post(state, source, (many, items), idem, per_minute)).await {
        Ok(answer) => answer,
        Err(e) => super::unavailable(e),
    }
}

/// Claims the post's key, takes its leads from the minute's budget, handles them and keeps
/// the answer for the key.
async fn post(
    state: AppState,
    source: String,
    (many, items): (bool, Vec<serde_json::Value>),
    idem: Option<String>,
    per_minute: u64,
) -> Response {
    if let Some(key) = &idem {
        match state.store.claim_answer(key, PENDING, PENDING_SECS).await {
            Ok(None) => {}
            Ok(Some(stored)) if stored == PENDING => {
                return (
                    StatusCode::CONFLICT,
                    "a post with this Idempotency-Key is being handled; retry in a moment\n",
                )
                    .into_response();
            }
            Ok(Some(stored)) => return replay(&stored),
            Err(e) => return super::unavailable(e),
        }
    }
    // The budget counts leads, not posts, and is taken whole or not at all.
    let minute = crate::clock::Clock::System.unix() / 60;
    let budget = state.store.keys.lead_rate(&source, minute);
    let reserved = state.store.reserve_in(&budget, items.len() as u64, per_minute, 120).await;
    if !matches!(reserved, Ok(true)) {
        if let Some(key) = &idem {
            let _ = state.store.unlock(key).await;
        }
        return match reserved {
            Err(e) => super::unavailable(e),
            _ => super::too_many("Too many leads this minute\n"),
        };
    }
    let answer = handle(&state, &source, many, items).await;
    if let Some(key) = &idem {
        let kept = match &answer {
            Ok((status, body)) => {
                let stored = serde_json::json!({ "status": status.as_u16(), "body": body }).to_string();
                state.store.keep_answer(key, &stored, IDEMPOTENCY_SECS).await
            }
            Err(_) => state.store.unlock(key).await,
        };
        if let Err(e) = kept {
            tracing::warn!(error = %e, "the answer of a lead post could not be kept for its Idempotency-Key");
        }
    }
    match answer {
        Ok((status, body)) => respond(status, &body),
        Err(e) => super::unavailable(e),
    }
}

/// A body of one lead or many: `(many, items)`, or the 422 answer of a body that is not JSON.
fn parse(body: &[u8]) -> Result<(bool, Vec<serde_json::Value>), serde_json::Value> {
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Array(items)) => Ok((true, items)),
        Ok(one) => Ok((false, vec![one])),
        Err(e) => Err(serde_json::json!({ "errors": { "body": format!("not JSON: {e}") } })),
    }
}

/// The answer to a post's leads.
async fn handle(
    state: &AppState,
    source: &str,
    many: bool,
    items: Vec<serde_json::Value>,
) -> Result<(StatusCode, serde_json::Value), crate::store::StoreError> {
    let ws = state.workspace.get();
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
        serde_json::to_value(answers.first())
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

#[cfg(test)]
mod tests {
    #[test]
    fn json_errors_name_their_field() {
        assert_eq!(super::field_of("unknown field `emial`, expected one of ..."), "emial");
        assert_eq!(super::field_of("expected value at line 1"), "body");
    }
}
