//! `nurture serve`'s HTTP side (axum): one-click unsubscribe pages, the agenda email's action
//! links (`/a/{token}`), the SMS provider's inbound
//! webhook, the lead funnel (`POST /leads`, the public form), `POST /events`, returning mail
//! (`POST /inbound/email`), the preview
//! pages, `/healthz` and `/metrics`. The only module that knows axum. Handlers log errors
//! once and answer without internals; a bad token is a plain 404.

mod agenda_links;
mod auth;
mod events;
mod form_page;
pub mod health;
mod inbound;
mod lead_form;
mod leads;
pub mod listen;
mod pages;
mod preview;
mod sms;

use crate::compliance::token;
use crate::queue::{Queue, inspect};
use crate::store::Store;
use crate::workspace::Live;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of this process, exported by `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Unsubscribe confirmations shown (GET).
    pub unsubscribe_pages: AtomicU64,
    /// Unsubscribes (POST), one-click or by the button.
    pub unsubscribes: AtomicU64,
    /// Requests with a forged or malformed token.
    pub bad_tokens: AtomicU64,
    /// Inbound SMS accepted.
    pub sms_inbound: AtomicU64,
    /// Inbound SMS with a bad signature.
    pub sms_bad_signature: AtomicU64,
    /// Numbers suppressed by STOP keywords.
    pub sms_stops: AtomicU64,
    /// Numbers re-subscribed by START keywords.
    pub sms_starts: AtomicU64,
    /// Lead form posts taken.
    pub lead_form_posts: AtomicU64,
    /// Lead form posts with the honeypot filled (nothing stored).
    pub lead_form_spam: AtomicU64,
    /// Returning messages posted to `/inbound/email` and read.
    pub inbound: AtomicU64,
    /// Agenda items acted on through the agenda email's links.
    pub agenda_actions: AtomicU64,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Config, plans, templates (the last good version of live edits).
    pub workspace: Arc<Live>,
    /// Redis.
    pub store: Store,
    /// The queue (for `/metrics`).
    pub queue: Queue,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The supervised tasks of this process (`/healthz`).
    pub tasks: Arc<health::Tasks>,
    /// The server listens on more than loopback: `/metrics` then needs `[server] metrics_token`.
    pub public: bool,
}

/// The router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/a/{token}", get(agenda_links::show).post(agenda_links::act))
        .route("/sms/inbound", axum::routing::post(sms::inbound))
        .route("/preview", get(preview::index))
        .route("/report", get(preview::report))
        .route("/preview/login", axum::routing::post(preview::login))
        .route("/preview/t/{*template}", get(preview::message))
        .route("/events", axum::routing::post(events::receive))
        .route("/inbound/email", axum::routing::post(inbound::email))
        .route("/inbound/{provider}", axum::routing::post(inbound::provider))
        .route("/leads", axum::routing::post(leads::receive))
        .route("/leads/form/{source}", get(lead_form::show).post(lead_form::submit))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The pairs of an `application/x-www-form-urlencoded` body.
fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not found\n").into_response()
}

/// 429 with `Retry-After: 60`: every limit here is per minute.
fn too_many(body: impl IntoResponse) -> Response {
    (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "60")], body).into_response()
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "request failed");
    (StatusCode::SERVICE_UNAVAILABLE, "Temporarily unavailable, please try again.\n").into_response()
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    r
}

/// Who a token is for, or `None` (forged, truncated, altered).
fn verify(state: &AppState, token: &str) -> Option<token::Unsubscriber> {
    let who = token::verify(&state.workspace.get().config.unsubscribe_secrets(), token);
    if who.is_none() {
        state.metrics.bad_tokens.fetch_add(1, Ordering::Relaxed);
    }
    who
}

async fn unsubscribe_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(who) = verify(&state, &token) else { return not_found() };
    if who.test {
        return test_page(&state);
    }
    let contact = match state.store.contact(&who.contact_id).await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    state.metrics.unsubscribe_pages.fetch_add(1, Ordering::Relaxed);
    let arabic = contact.as_ref().is_some_and(|c| c.is_arabic());
    // A forgotten or unknown contact: the page says nothing about them. A link made before
    // 0.6 names no address: the contact's current one is shown masked (whoever holds an old
    // link learns no new address).
    let email = contact.as_ref().and_then(|c| match &who.address {
        Some(address) => Some(address.clone()),
        None => c.email().map(pages::masked_email),
    });
    no_store(Html(pages::confirm(&state.workspace.get().config.sender.name, email.as_deref(), arabic)).into_response())
}

/// The page of a test link (`send-test`, previews), for GET and POST: nobody is unsubscribed.
fn test_page(state: &AppState) -> Response {
    no_store(Html(pages::test_message(&state.workspace.get().config.sender.name)).into_response())
}

/// Any POST unsubscribes (RFC 8058 one-click sends `List-Unsubscribe=One-Click`, urlencoded or
/// multipart; the page's button sends a plain form). 200, no redirect, no cookie. The address
/// the message went to is suppressed, and the contact's current one if it changed since. For
/// a forgotten or unknown contact the answer is the same and nothing is written.
async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(who) = verify(&state, &token) else { return not_found() };
    if who.test {
        return test_page(&state);
    }
    let contact = match state.store.contact(&who.contact_id).await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let one_click = String::from_utf8_lossy(&body).contains("One-Click");
    if let Some(c) = &contact
        && let Err(e) = record_unsubscribe(&state, c, who.address.as_deref(), one_click).await
    {
        return unavailable(e);
    }
    state.metrics.unsubscribes.fetch_add(1, Ordering::Relaxed);
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if one_click && !wants_html {
        return no_store((StatusCode::OK, "Unsubscribed.\n").into_response());
    }
    let arabic = contact.as_ref().is_some_and(|c| c.is_arabic());
    no_store(Html(pages::done(&state.workspace.get().config.sender.name, arabic)).into_response())
}

/// Suppresses `sent_to` and the contact's current address, and notes the opt-out in the
/// contact's history and the event log ([`crate::events::email_opt_out`]).
async fn record_unsubscribe(
    state: &AppState,
    contact: &crate::contacts::Contact,
    sent_to: Option<&str>,
    one_click: bool,
) -> Result<(), crate::store::StoreError> {
    let clock = crate::clock::Clock::System;
    let opt_out = crate::events::EmailOptOut {
        reason: "unsubscribe",
        event: "unsubscribed",
        detail: if one_click { "one-click" } else { "unsubscribe page" }.into(),
        sent_to,
        at: clock.now().to_rfc3339(),
        day: clock.today(state.workspace.get().config.sender_tz()),
    };
    crate::events::email_opt_out(&state.store, contact, &opt_out).await
}

async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let token = state.workspace.get().config.server.metrics_token.expose().to_string();
    if token.is_empty() && state.public {
        return (
            StatusCode::NOT_FOUND,
            "Not found: /metrics of a server that listens beyond loopback needs [server] metrics_token\n",
        )
            .into_response();
    }
    if !token.is_empty() && !auth::bearer(&headers).is_some_and(|given| auth::same_token(given, &token, b"nurture-metrics-v1")) {
        return (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            "Unauthorized\n",
        )
            .into_response();
    }
    let m = &state.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, v: &AtomicU64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            v.load(Ordering::Relaxed)
        ));
    };
    counter(
        "nurture_unsubscribe_pages_total",
        "Unsubscribe confirmation pages shown.",
        &m.unsubscribe_pages,
    );
    counter("nurture_unsubscribes_total", "Unsubscribe requests (POST).", &m.unsubscribes);
    counter(
        "nurture_bad_tokens_total",
        "Requests with a forged or malformed unsubscribe token.",
        &m.bad_tokens,
    );
    counter("nurture_sms_inbound_total", "Inbound SMS accepted.", &m.sms_inbound);
    counter(
        "nurture_sms_bad_signature_total",
        "Inbound SMS rejected for a bad signature.",
        &m.sms_bad_signature,
    );
    counter(
        "nurture_sms_stop_total",
        "Numbers suppressed by an SMS opt-out keyword.",
        &m.sms_stops,
    );
    counter(
        "nurture_sms_start_total",
        "Numbers re-subscribed by an SMS opt-in keyword.",
        &m.sms_starts,
    );
    counter("nurture_lead_form_posts_total", "Lead form posts taken.", &m.lead_form_posts);
    counter(
        "nurture_inbound_http_total",
        "Returning messages posted to /inbound/email and read.",
        &m.inbound,
    );
    counter(
        "nurture_agenda_actions_total",
        "Agenda items acted on through the agenda email's links.",
        &m.agenda_actions,
    );
    counter(
        "nurture_lead_form_spam_total",
        "Lead form posts with the honeypot filled (nothing stored).",
        &m.lead_form_spam,
    );
    let snapshot = async {
        let b = inspect::backlog(&state.queue).await.map_err(|e| e.to_string())?;
        let email = state.store.suppression_count("email").await.map_err(|e| e.to_string())?;
        let sms = state.store.suppression_count("sms").await.map_err(|e| e.to_string())?;
        let contacts = state.store.contact_count().await.map_err(|e| e.to_string())?;
        let today = crate::clock::Clock::System.today(state.workspace.get().config.sender_tz());
        let day = state.store.stats(&today.to_string()).await.map_err(|e| e.to_string())?;
        let inbound = &state.workspace.get().config.inbound;
        let guard = crate::inbound::guard::check(&state.store, inbound, today)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((b, email, sms, contacts, day, guard))
    };
    match snapshot.await {
        Ok((b, email, sms, contacts, day, (rates, judgement))) => {
            for (name, help, rate) in [
                (
                    "nurture_bounce_rate_7d",
                    "Hard bounces per email accepted in the last 7 days (ratio).",
                    rates.bounce_rate,
                ),
                (
                    "nurture_complaint_rate_7d",
                    "Complaints per email accepted in the last 7 days (ratio).",
                    rates.complaint_rate,
                ),
            ] {
                out.push_str(&format!(
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}\n",
                    rate.unwrap_or(0.0) / 100.0
                ));
            }
            let stopped = matches!(judgement, crate::inbound::guard::Judgement::Stop { .. });
            out.push_str(&format!(
                "# HELP nurture_email_guard_stopped 1 while the complaint and bounce guard stops email.\n# TYPE nurture_email_guard_stopped gauge\nnurture_email_guard_stopped {}\n",
                u8::from(stopped)
            ));
            let mut gauge = |name: &str, help: &str, labels: &str, v: u64| {
                if !out.contains(&format!("# TYPE {name} ")) {
                    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
                }
                out.push_str(&format!("{name}{labels} {v}\n"));
            };
            gauge("nurture_contacts", "Contacts stored.", "", contacts);
            gauge(
                "nurture_queue_jobs",
                "Jobs in the queue by state.",
                "{state=\"waiting\"}",
                b.waiting + b.due,
            );
            gauge("nurture_queue_jobs", "", "{state=\"in_flight\"}", b.in_flight);
            gauge("nurture_queue_jobs", "", "{state=\"scheduled\"}", b.scheduled);
            gauge("nurture_queue_jobs", "", "{state=\"parked\"}", b.parked);
            gauge("nurture_queue_jobs", "", "{state=\"dead\"}", b.dead);
            gauge(
                "nurture_suppressed",
                "Suppression list size by channel.",
                "{channel=\"email\"}",
                email,
            );
            gauge("nurture_suppressed", "", "{channel=\"sms\"}", sms);
            // Today's counters, by the names `status` and the stats hash use.
            for c in crate::facts::Counter::ALL {
                let v = day.iter().find(|(k, _)| k == c.name()).map(|(_, v)| *v as u64).unwrap_or(0);
                let labels = format!("{{counter=\"{}\"}}", c.name());
                gauge("nurture_today", "Today's counters (sender's timezone) by name.", &labels, v);
            }
        }
        Err(e) => return unavailable(e),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
