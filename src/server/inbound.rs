//! `POST /inbound/email`, and the providers' event webhooks `POST /inbound/{mailgun|sendgrid|ses|postmark}`
//! (below). `/inbound/email`: one raw RFC 5322 message from a relay that forwards returning mail
//! over HTTP, behind `Authorization: Bearer [inbound] token` (off, 404, when it is empty).
//! Answers 200 when handled (also for a message handled before: nothing changes again), 202
//! when it was understood but there is nothing to do (or it is not for nurture), 401 without a
//! token, 403 with a wrong one, 503 when Redis failed or another process is handling the same
//! message (the relay retries).

use super::{AppState, auth};
use crate::inbound::providers::{self, Refused};
use crate::inbound::{self, Outcome};
use axum::body::Bytes;
use axum::extract::{Path, State};
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
        Outcome::Busy => return busy(),
    };
    let body = serde_json::json!({ "kind": handled.kind, "outcome": handled.outcome }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Another process is handling the same message or event (or a reply's copy to the agent
/// failed): the sender tries again later.
fn busy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "60")],
        "Being handled, try again\n",
    )
        .into_response()
}

/// One HTTP client for SNS certificates and subscription confirmations.
static HTTP: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(reqwest::Client::new);

/// The answer to a provider request that did not verify.
fn refused(r: &Refused, mailgun: bool) -> Response {
    tracing::warn!(reason = %r, "provider webhook refused");
    match r {
        Refused::Missing => (StatusCode::UNAUTHORIZED, "No signature\n").into_response(),
        // Mailgun stops retrying on 406 only.
        Refused::Bad(_) if mailgun => (StatusCode::NOT_ACCEPTABLE, "Bad signature\n").into_response(),
        Refused::Bad(_) => (StatusCode::FORBIDDEN, "Bad signature\n").into_response(),
        Refused::Malformed(..) => (StatusCode::BAD_REQUEST, "Not an event of this provider\n").into_response(),
    }
}

/// `POST /inbound/{provider}`: Mailgun, SendGrid, Amazon SES (through SNS) or Postmark events, each
/// verified its own way (`inbound::providers`); 404 for a provider that is not configured.
pub(super) async fn provider(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let ws = state.workspace.get();
    let cfg = &ws.config.inbound;
    let clock = crate::clock::Clock::System;
    let now = clock.unix();
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let events = match name.as_str() {
        "mailgun" if !cfg.mailgun.signing_key.is_empty() => {
            match providers::mailgun::verify(cfg.mailgun.signing_key.expose(), &body, now) {
                Ok(v) => {
                    let key = state.store.keys.inbound_seen(&format!("mailgun-token:{}", v.token));
                    match state.store.try_lock(&key, providers::mailgun::TOKEN_SECS as u64).await {
                        Ok(true) => vec![v.event],
                        Ok(false) => return refused(&Refused::Bad("token used before".into()), true),
                        Err(e) => return super::unavailable(e),
                    }
                }
                Err(r) => return refused(&r, true),
            }
        }
        "sendgrid" if !cfg.sendgrid.public_key.is_empty() => {
            let signature = header("X-Twilio-Email-Event-Webhook-Signature");
            let timestamp = header("X-Twilio-Email-Event-Webhook-Timestamp");
            match providers::sendgrid::verify(&cfg.sendgrid.public_key, signature, timestamp, &body, now) {
                Ok(events) => events,
                Err(r) => return refused(&r, false),
            }
        }
        "ses" if !cfg.ses.topic_arn.is_empty() => match providers::ses::verify(&cfg.ses, &body, &HTTP).await {
            Ok(providers::ses::Sns::Events(events)) => events,
            Ok(providers::ses::Sns::Confirm(url)) => {
                return match HTTP
                    .get(&url)
                    .timeout(std::time::Duration::from_secs(10))
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                {
                    Ok(_) => {
                        tracing::info!("SNS subscription confirmed");
                        (StatusCode::OK, "Subscription confirmed\n").into_response()
                    }
                    Err(e) => super::unavailable(format!("confirming the SNS subscription: {e}")),
                };
            }
            Ok(providers::ses::Sns::Other) => return (StatusCode::ACCEPTED, "Nothing to do\n").into_response(),
            Err(r) => return refused(&r, false),
        },
        "postmark" if !cfg.postmark.user.is_empty() => {
            let authorization = header(header::AUTHORIZATION.as_str());
            if let Err(r) = providers::postmark::verify(authorization, &cfg.postmark.user, cfg.postmark.password.expose()) {
                return match r {
                    Refused::Missing => (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic")], "Unauthorized\n").into_response(),
                    r => refused(&r, false),
                };
            }
            match providers::postmark::event(&body) {
                Ok(e) => vec![e],
                Err(r) => return refused(&r, false),
            }
        }
        _ => return super::not_found(),
    };
    let mut applied = false;
    let mut results = Vec::new();
    for e in &events {
        match inbound::handle_event(&state.store, &ws, &clock, e).await {
            Ok(h) if h.outcome == Outcome::Busy => return busy(),
            Ok(h) => {
                tracing::info!(provider = %name, kind = h.kind.name(), outcome = ?h.outcome, "provider event");
                applied |= matches!(h.outcome, Outcome::Applied | Outcome::Duplicate);
                results.push(serde_json::json!({ "kind": h.kind, "outcome": h.outcome }));
            }
            Err(e) => return super::unavailable(e),
        }
    }
    state.metrics.inbound.fetch_add(events.len() as u64, Ordering::Relaxed);
    let status = if applied { StatusCode::OK } else { StatusCode::ACCEPTED };
    let body = serde_json::json!({ "events": results }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
