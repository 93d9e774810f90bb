//! The pages behind the agenda email's links (`/a/{token}`): GET shows what the link would do
//! and changes nothing (mail scanners that fetch every link act on nothing); POST acts, once.
//! No login: the sealed token is the agent's key to that one item and action, until it
//! expires. Pages are phone-sized, in the agent's language (Arabic right to left).

use super::{AppState, form_urlencoded_pairs, no_store, not_found, pages::page, unavailable};
use crate::agenda::act::{Acting, Outcome};
use crate::agenda::links::{Action, Link, token_hash};
use crate::agenda::{self, AgendaItem};
use crate::events::EventError;
use crate::render::escape_html as esc;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::sync::atomic::Ordering;

const STYLE: &str = ".who{font-size:20px;font-weight:bold}.reach a{display:inline-block;margin-block:6px;margin-inline-end:12px;font-size:18px}\
textarea{width:100%;box-sizing:border-box;font:inherit;margin:8px 0 16px;padding:8px}button{width:100%}\
.muted{color:#666}";

/// Why a link does not act.
enum Refusal {
    /// Past its last day.
    Expired,
    /// The item is closed (by this link, another, or the CLI).
    Closed,
    /// The contact went to another agent since.
    NotYours,
    /// This link acted already.
    Used,
}

/// A link that opened, with its item when that is still open and the link's to act on.
struct Opened {
    link: Link,
    lang: &'static str,
    item: Result<AgendaItem, Refusal>,
    /// Seconds until the link expires (how long its "acted" marker is kept).
    ttl_secs: u64,
}

async fn open(state: &AppState, token: &str) -> Result<Option<Opened>, crate::store::StoreError> {
    let ws = state.workspace.get();
    let config = &ws.config;
    let Some(link) = Link::open(&config.unsubscribe_secrets(), token) else {
        state.metrics.bad_tokens.fetch_add(1, Ordering::Relaxed);
        return Ok(None);
    };
    let lang = if agenda::lang_of(config, &link.agent) == "ar" { "ar" } else { "en" };
    let today = crate::clock::Clock::System.today(config.sender_tz());
    let last_day = link.last_day(config.agenda.link_days);
    let ttl_secs = ((last_day - today).num_days().max(0) as u64 + 1) * 86_400;
    let item = if today > last_day {
        Err(Refusal::Expired)
    } else {
        match state.store.open_agenda_item(&link.item_id).await? {
            None => Err(Refusal::Closed),
            Some(item) => match state.store.contact(&item.contact_id).await? {
                // Forgotten since: nothing is left to act on.
                None => Err(Refusal::Closed),
                Some(contact) => {
                    // The contact's agent now, not when the item opened.
                    let to = agenda::recipients(config);
                    let listed: Vec<&str> = to.keys().map(String::as_str).filter(|a| *a != "*").collect();
                    if link.is_for(contact.get("agent").unwrap_or(""), &listed) {
                        Ok(item)
                    } else {
                        Err(Refusal::NotYours)
                    }
                }
            },
        }
    };
    Ok(Some(Opened {
        link,
        lang,
        item,
        ttl_secs,
    }))
}

/// `GET /a/{token}`: what the link would do, with one button; nothing changes.
pub(super) async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let opened = match open(&state, &token).await {
        Ok(Some(o)) => o,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e),
    };
    match &opened.item {
        Ok(item) => no_store(Html(confirm_page(&opened, item)).into_response()),
        Err(why) => refusal_page(opened.lang, why),
    }
}

/// `POST /a/{token}`: acts once (a `note` field goes into the history).
pub(super) async fn act(State(state): State<AppState>, Path(token): Path<String>, body: Bytes) -> Response {
    let opened = match open(&state, &token).await {
        Ok(Some(o)) => o,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e),
    };
    let item = match &opened.item {
        Ok(item) => item,
        Err(why) => return refusal_page(opened.lang, why),
    };
    let used = state.store.keys.agenda_link_used(&token_hash(&token));
    match state.store.try_lock(&used, opened.ttl_secs).await {
        Ok(true) => {}
        Ok(false) => return refusal_page(opened.lang, &Refusal::Used),
        Err(e) => return unavailable(e),
    }
    let note = form_urlencoded_pairs(&body).into_iter().find(|(k, _)| k == "note").map(|(_, v)| v);
    let ws = state.workspace.get();
    let clock = crate::clock::Clock::System;
    let acting = Acting::new(&state.store, &ws.config, &clock, clock.today(ws.config.sender_tz()));
    match acting.act(item, opened.link.action, note.as_deref()).await {
        Ok(Outcome::NotOpen) => refusal_page(opened.lang, &Refusal::Closed),
        Ok(outcome) => {
            state.metrics.agenda_actions.fetch_add(1, Ordering::Relaxed);
            tracing::info!(action = opened.link.action.slug(), agent = %opened.link.agent, "agenda link acted");
            no_store(Html(acted_page(opened.lang, opened.link.action, outcome, item)).into_response())
        }
        Err(e) => {
            // Nothing acted: the link may be tried again.
            if let Err(e) = state.store.unlock(&used).await {
                tracing::error!(error = %e, "an agenda link stays spent after a failure");
            }
            match e {
                EventError::Store(e) => unavailable(e),
                other => {
                    let body = page(
                        opened.lang,
                        dir(opened.lang),
                        "!",
                        STYLE,
                        &format!("<p id=\"error\">{}</p>", esc(&other.to_string())),
                    );
                    (StatusCode::CONFLICT, Html(body)).into_response()
                }
            }
        }
    }
}

fn dir(lang: &str) -> &'static str {
    if lang == "ar" { "rtl" } else { "ltr" }
}

fn ar(lang: &str) -> bool {
    lang == "ar"
}

/// Who, how to reach them, what the item is.
fn summary(lang: &str, item: &AgendaItem) -> String {
    let who = if item.name.is_empty() { &item.contact_id } else { &item.name };
    let mut reach = String::new();
    if !item.phone.is_empty() {
        let p = esc(&item.phone);
        let (call, text) = if ar(lang) { ("اتصال", "رسالة") } else { ("Call", "Text") };
        reach.push_str(&format!(
            "<a id=\"tel\" href=\"tel:{p}\">{call} <bdi dir=\"ltr\">{p}</bdi></a><a id=\"sms\" href=\"sms:{p}\">{text}</a>"
        ));
    } else if item.channel == "call" {
        reach.push_str(if ar(lang) {
            "<b>لا رقم هاتف</b> "
        } else {
            "<b>No phone number</b> "
        });
    }
    if !item.email.is_empty() {
        reach.push_str(&format!(
            "<a id=\"mailto\" href=\"mailto:{e}\"><bdi>{e}</bdi></a>",
            e = esc(&item.email)
        ));
    }
    format!(
        "<p class=\"who\">{}</p><p class=\"reach\">{reach}</p><p class=\"muted\">{} · {} / {} · {}</p>",
        esc(who),
        esc(&item.channel),
        esc(&item.plan),
        esc(&item.touch),
        esc(&item.due)
    )
}

fn confirm_page(opened: &Opened, item: &AgendaItem) -> String {
    let lang = opened.lang;
    let label = opened.link.action.label(lang);
    let (question, note) = if ar(lang) {
        (format!("تسجيل «{label}»؟"), "ملاحظة (اختيارية)")
    } else {
        (format!("Mark as “{label}”?"), "Note (optional)")
    };
    let what = match (opened.link.action, ar(lang)) {
        (Action::Done, false) => "Closes this item.",
        (Action::Answered, false) => "Closes this item and records a response.",
        (Action::NoAnswer, false) => "Notes that nobody answered; the item stays on your agenda.",
        (Action::NotInterested, false) => "Closes this item and moves the contact to lost (not interested).",
        (Action::Done, true) => "يغلق هذا البند.",
        (Action::Answered, true) => "يغلق هذا البند ويسجّل ردّاً.",
        (Action::NoAnswer, true) => "يسجّل أن أحداً لم يردّ؛ يبقى البند في جدولك.",
        (Action::NotInterested, true) => "يغلق هذا البند وينقل جهة الاتصال إلى «خسارة» (غير مهتم).",
    };
    page(
        lang,
        dir(lang),
        label,
        STYLE,
        &format!(
            "<h1>{question}</h1>{}<p>{what}</p><form method=\"post\"><label for=\"note\">{note}</label>\
<textarea id=\"note\" name=\"note\" rows=\"3\"></textarea><button id=\"act\" type=\"submit\">{label}</button></form>",
            summary(lang, item)
        ),
    )
}

fn acted_page(lang: &str, action: Action, outcome: Outcome, item: &AgendaItem) -> String {
    let said = match (outcome, ar(lang)) {
        (Outcome::NotedNoAnswer, false) => "Noted: no answer. The item stays on your agenda.".to_string(),
        (Outcome::NotedNoAnswer, true) => "سُجّل: لا ردّ. يبقى البند في جدولك.".to_string(),
        (_, false) => format!("Recorded: {}.", action.label(lang)),
        (_, true) => format!("سُجّل: {}.", action.label(lang)),
    };
    page(
        lang,
        dir(lang),
        action.label(lang),
        STYLE,
        &format!("<h1 id=\"result\">{said}</h1>{}", summary(lang, item)),
    )
}

fn refusal_page(lang: &str, why: &Refusal) -> Response {
    let (id, status, en, arabic) = match why {
        Refusal::Expired => (
            "expired",
            StatusCode::GONE,
            "This link has expired. Use a newer agenda email, or `nurture agenda`.",
            "انتهت صلاحية هذا الرابط. استخدم بريد جدول أعمال أحدث.",
        ),
        Refusal::Closed => (
            "closed",
            StatusCode::OK,
            "This item is already closed. Nothing changed.",
            "هذا البند مغلق مسبقاً. لم يتغيّر شيء.",
        ),
        Refusal::NotYours => (
            "not-yours",
            StatusCode::FORBIDDEN,
            "This contact is now another agent's. Nothing changed.",
            "جهة الاتصال هذه صارت لدى وكيل آخر. لم يتغيّر شيء.",
        ),
        Refusal::Used => (
            "used",
            StatusCode::OK,
            "This link was already used. Nothing changed.",
            "استُخدم هذا الرابط من قبل. لم يتغيّر شيء.",
        ),
    };
    let text = if ar(lang) { arabic } else { en };
    let body = page(lang, dir(lang), text, STYLE, &format!("<h1 id=\"{id}\">{}</h1>", esc(text)));
    no_store((status, Html(body)).into_response())
}
