//! `POST /sms/inbound`: the SMS provider's webhook (Twilio form fields `From`, `Body`).
//! Only requests signed by the provider are taken (an unsigned webhook needs
//! `[sms] allow_unsigned_inbound`, for local testing). Opt-out keywords suppress the number at
//! once, opt-in keywords lift only a suppression an opt-out set; every event is
//! recorded. A YES from a contact whose form consent waits for it confirms that consent
//! ([`crate::consent`]). Any other text (and an opt-in) from a contact is a response to the plans. The
//! provider sends the confirmation text itself, so the answer is empty TwiML.

use super::{AppState, unavailable};
use crate::compliance::erasure::address_hash;
use crate::compliance::sms::{Keyword, keyword, verify_twilio};
use crate::contacts::E164;
use crate::store::Suppression;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering;

const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

pub(super) async fn inbound(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let params: Vec<(String, String)> = super::form_urlencoded_pairs(&body);
    let ws = state.workspace.get();
    let config = &ws.config;
    let token = config.sms.auth_token.expose();
    if token.is_empty() && !config.sms.allow_unsigned_inbound {
        // Without a token nothing can be verified: anyone could text STOP or START for anyone.
        state.metrics.sms_bad_signature.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("inbound SMS refused: no [sms] auth_token to verify its signature");
        return (
            StatusCode::FORBIDDEN,
            "Forbidden: set [sms] auth_token to verify the provider's signature\n",
        )
            .into_response();
    }
    if !token.is_empty() {
        let signature = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !verify_twilio(token, &config.sms_inbound_url(), &params, signature) {
            state.metrics.sms_bad_signature.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("inbound SMS with a bad signature rejected");
            return (StatusCode::FORBIDDEN, "Forbidden\n").into_response();
        }
    }
    let field = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let Ok(from) = E164::parse(field("From"), &config.contacts.default_region) else {
        return (StatusCode::BAD_REQUEST, "From is not a phone number\n").into_response();
    };
    // Each message is acted on once: a replayed (or retried) webhook of the same MessageSid
    // gets the same empty answer and changes nothing.
    let sid = field("MessageSid");
    let seen = (!sid.is_empty()).then(|| state.store.keys.sms_seen(sid));
    if let Some(key) = &seen {
        match state.store.try_lock(key, SEEN_SECS).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("inbound SMS already handled (same MessageSid): nothing done again");
                return ([(header::CONTENT_TYPE, "text/xml")], EMPTY_TWIML).into_response();
            }
            Err(e) => return unavailable(e),
        }
    }
    let answer = act(&state, &params, from).await;
    if let Some(key) = seen.filter(|_| !answer.status().is_success()) {
        // Not done: the provider's retry may try again.
        let _ = state.store.unlock(&key).await;
    }
    answer
}

/// How long a handled MessageSid is remembered.
const SEEN_SECS: u64 = 30 * 86_400;

/// What an inbound SMS from `from` does: an opt-out, an opt-in, a confirmation or a reply.
async fn act(state: &AppState, params: &[(String, String)], from: E164) -> Response {
    let ws = state.workspace.get();
    let config = &ws.config;
    let field = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    state.metrics.sms_inbound.fetch_add(1, Ordering::Relaxed);
    // Someone who was forgotten: answered like anyone, nothing written about them (their
    // number can never be imported again anyway).
    let hash = address_hash(config.pepper(), "sms", from.as_str());
    match state.store.forgotten_among(std::slice::from_ref(&hash)).await {
        Ok(f) if f.first() == Some(&true) => {
            tracing::info!("inbound SMS from a forgotten number: nothing recorded");
            return ([(header::CONTENT_TYPE, "text/xml")], EMPTY_TWIML).into_response();
        }
        Ok(_) => {}
        Err(e) => return unavailable(e),
    }
    let now = crate::clock::Clock::System.now().to_rfc3339();
    let kind = keyword(field("Body"));
    let result = match kind {
        Keyword::Stop => {
            state.metrics.sms_stops.fetch_add(1, Ordering::Relaxed);
            let entry = Suppression {
                value: from.as_str().into(),
                channel: "sms".into(),
                reason: "stop".into(),
                at: now.clone(),
            };
            state.store.suppress(&entry).await.map(|_| "stop")
        }
        Keyword::Start => {
            state.metrics.sms_starts.fetch_add(1, Ordering::Relaxed);
            // Only what a STOP from this number set: a bounce, a manual entry, an unsubscribe
            // or a complaint stays, whatever the number texts.
            state.store.unsuppress_if("sms", from.as_str(), &["stop"]).await.map(|_| "start")
        }
        Keyword::Other => Ok("reply"),
    };
    // The sender, if a contact: a reply (or a YES/START) is a response; a STOP goes to the history.
    let contact = match state.store.contact_by_phone(from.as_str()).await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    // A YES to the lead form's confirmation text: the consent is confirmed (not a response).
    let today = crate::clock::Clock::System.today(config.sender_tz());
    let result = match (&contact, result) {
        (Some(c), Ok("start")) => match crate::consent::confirm(&state.store, c, today).await {
            Ok(true) => Ok("consent_confirmed"),
            Ok(false) => Ok("start"),
            Err(e) => return unavailable(e),
        },
        (_, result) => result,
    };
    if let Some(c) = &contact {
        let history = match result {
            Ok("consent_confirmed") => Ok(()),
            Ok(kw @ ("reply" | "start")) => {
                let event = crate::events::ContactEvent {
                    kind: crate::events::Kind::Response,
                    contact: c.id.0.clone(),
                    channel: Some("sms".into()),
                    note: Some(format!(
                        "{}{}",
                        if kw == "start" { "opted in: " } else { "" },
                        field("Body").chars().take(200).collect::<String>()
                    )),
                    date: None,
                };
                crate::events::record(
                    &state.store,
                    &event,
                    crate::clock::Clock::System.today(config.sender_tz()),
                    &config.contacts.default_region,
                    &crate::contacts::pipeline::Pipeline::new(&config.pipeline.stages),
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
            }
            Ok(kw) => async {
                let event = crate::history::Event::new(now.clone(), &format!("sms_{kw}"), "");
                state.store.push_history(&[(c.id.0.clone(), event)]).await?;
                let today = crate::clock::Clock::System.today(config.sender_tz());
                let data = serde_json::json!({ "channel": "sms", "via": kw.to_string(), "at": now });
                crate::webhooks::emit(&state.store, "unsubscribe", &c.id.0, data).await;
                crate::events::opted_out(&state.store, c, today).await
            }
            .await
            .map_err(|e| e.to_string()),
            Err(_) => Ok(()),
        };
        if let Err(e) = history {
            return unavailable(e);
        }
    }
    let event = match result {
        Ok(e) => e,
        Err(e) => return unavailable(e),
    };
    // The event log names the contact, never the number (a STOP from a number that is no
    // contact is kept only as its suppression, which the law requires).
    let contact_id = contact.as_ref().map(|c| c.id.0.as_str());
    let record = serde_json::json!({ "event": event, "channel": "sms", "contact_id": contact_id, "at": now });
    if let Err(e) = state.store.record_event(&record.to_string()).await {
        return unavailable(e);
    }
    tracing::info!(event, "inbound SMS");
    ([(header::CONTENT_TYPE, "text/xml")], EMPTY_TWIML).into_response()
}
