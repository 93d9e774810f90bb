//! `/preview`: the marketers' view of the templates in `nurture serve`. A list of the message
//! templates and the touches that use them; each one rendered, for a stored contact or a
//! sample one (English or Arabic), exactly as it would be sent — headers above, the HTML in a
//! sandboxed frame, the text part and the raw message below; an SMS with its encoding and
//! parts. Live edits show at the next reload.
//!
//! Off unless `[server] preview_token` is set. The token is given as `Authorization: Bearer`
//! (scripts), or once in the login form, which sets an HttpOnly, SameSite=Strict cookie
//! holding an HMAC of the token (never the token itself).

use super::AppState;
use super::auth::{bearer, same_token, tag};
use crate::contacts::Contact;
use crate::preview::{self, Preview, PreviewError};
use crate::render::Kind;
use crate::render::escape_html as esc;
use crate::workspace::Workspace;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use hmac::Mac;
use serde::Deserialize;

const COOKIE: &str = "nurture_preview";

/// The query of every preview page: whom to render for, and when.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Chooser {
    /// A stored contact's id, email or phone; empty = the sample contact.
    #[serde(default)]
    contact: String,
    /// The sample contact's locale (`en`, `ar`).
    #[serde(default)]
    locale: String,
    /// The day to render for (`YYYY-MM-DD`; empty = today).
    #[serde(default)]
    date: String,
}

impl Chooser {
    fn query(&self) -> String {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
        format!(
            "?contact={}&locale={}&date={}",
            enc(&self.contact),
            enc(&self.locale),
            enc(&self.date)
        )
    }
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct Login {
    token: String,
}

/// What the token is compared through (and the session cookie made of).
const LABEL: &[u8] = b"nurture-preview-v1";

/// How long a preview session lasts (the cookie's `Max-Age`, and checked on every request).
const SESSION_SECS: i64 = 12 * 3600;

/// The cookie value for a token, issued at `at` (unix seconds): `at.HMAC(token, label|at)`.
fn session(token: &str, at: i64) -> String {
    let mut m = tag(token, LABEL);
    m.update(at.to_string().as_bytes());
    format!("{at}.{}", URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
}

/// True for a session cookie made from `token` and issued less than [`SESSION_SECS`] before `now`.
fn valid_session(token: &str, cookie: &str, now: i64) -> bool {
    let Some((at, mac)) = cookie.split_once('.') else { return false };
    let (Ok(at), Ok(mac)) = (at.parse::<i64>(), URL_SAFE_NO_PAD.decode(mac)) else {
        return false;
    };
    let mut m = tag(token, LABEL);
    m.update(at.to_string().as_bytes());
    (0..SESSION_SECS).contains(&(now - at)) && m.verify_slice(&mac).is_ok()
}

/// The configured token, or `None` when `/preview` is off.
fn configured(state: &AppState) -> Option<String> {
    let token = state.workspace.get().config.server.preview_token.expose().to_string();
    (!token.is_empty()).then_some(token)
}

/// True when the request carries the token (bearer) or a session cookie made from it.
fn authorized(token: &str, headers: &HeaderMap) -> bool {
    let bearer = bearer(headers).is_some_and(|given| same_token(given, token, LABEL));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_string))
        .any(|v| valid_session(token, &v, crate::clock::Clock::unix_now()));
    bearer || cookie
}

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>{title} · nurture preview</title>
<style>
body{{font-family:system-ui,Tahoma,sans-serif;margin:0;background:#f4f4f0;color:#222}}
header{{background:#263238;color:#fff;padding:12px 24px}} header a{{color:#fff}}
main{{padding:16px 24px;max-width:1100px}}
table{{border-collapse:collapse;background:#fff;width:100%}} td,th{{border:1px solid #ddd;padding:6px 8px;text-align:start;vertical-align:top}}
th{{background:#eceff1}} .headers th{{width:190px;white-space:nowrap}}
iframe{{width:100%;height:720px;border:1px solid #bbb;background:#fff}}
pre{{background:#fff;border:1px solid #ddd;padding:12px;white-space:pre-wrap;overflow-wrap:anywhere}}
.error{{color:#8a1c1c}} .warn{{color:#8a5a00}} form.chooser{{margin:12px 0}} form.chooser input{{padding:4px}}
</style>
</head>
<body><header><a href="/preview">nurture · templates</a></header><main>
{body}
</main></body>
</html>
"#
    )
}

fn login_page(failed: bool) -> Response {
    let note = if failed {
        "<p class=\"error\" id=\"login-error\">That token is not right.</p>"
    } else {
        ""
    };
    let body = format!(
        "<h1>Template preview</h1>{note}<form method=\"post\" action=\"/preview/login\">\
<label>Preview token <input id=\"token\" name=\"token\" type=\"password\" autofocus></label> \
<button id=\"login\" type=\"submit\">Open</button></form>"
    );
    (StatusCode::UNAUTHORIZED, Html(page("Sign in", &body))).into_response()
}

fn chooser_form(action: &str, c: &Chooser) -> String {
    let selected = |l: &str| if c.locale == l { " selected" } else { "" };
    format!(
        "<form class=\"chooser\" method=\"get\" action=\"{}\">\
<label>Contact (id, email or phone; empty = sample) <input id=\"contact\" name=\"contact\" value=\"{}\"></label> \
<label>Sample in <select name=\"locale\"><option value=\"en\"{}>English</option><option value=\"ar\"{}>العربية</option></select></label> \
<label>Date <input name=\"date\" type=\"date\" value=\"{}\"></label> <button id=\"choose\" type=\"submit\">Render</button></form>",
        esc(action),
        esc(&c.contact),
        selected("en"),
        selected("ar"),
        esc(&c.date)
    )
}

/// `GET /preview`: the message templates and the touches that use them.
pub(super) async fn index(State(state): State<AppState>, headers: HeaderMap, Query(c): Query<Chooser>) -> Response {
    let Some(token) = configured(&state) else {
        return super::not_found();
    };
    if !authorized(&token, &headers) {
        return login_page(false);
    }
    let ws = state.workspace.get();
    let mut rows = String::new();
    for name in ws.catalog.names() {
        let (base, kind) = match (name.strip_suffix(".email"), name.strip_suffix(".sms")) {
            (Some(b), _) => (b, "email"),
            (_, Some(b)) => (b, "SMS"),
            _ => continue,
        };
        if base.ends_with(".ar") {
            continue;
        }
        let k = if kind == "email" { Kind::Email } else { Kind::Sms };
        let variants = if ws.catalog.has(&format!("{base}.ar"), k) {
            "English, العربية"
        } else {
            "English"
        };
        let users: Vec<String> = ws
            .plans
            .values()
            .flat_map(|p| p.touches.iter().map(move |t| (p, t)))
            .filter(|(_, t)| t.template.as_deref() == Some(base))
            .map(|(p, t)| format!("{} / {}", esc(&p.id), esc(&t.id)))
            .collect();
        rows.push_str(&format!(
            "<tr><td><a class=\"template\" href=\"/preview/t/{}{}\">{}</a></td><td>{kind}</td><td>{variants}</td><td>{}</td></tr>",
            esc(base),
            esc(&c.query()),
            esc(base),
            if users.is_empty() {
                "<span class=\"warn\">no plan uses it</span>".into()
            } else {
                users.join("<br>")
            }
        ));
    }
    let problems: String = ws
        .diagnostics
        .iter()
        .map(|d| {
            format!(
                "<li class=\"{}\">{}</li>",
                if d.is_error() { "error" } else { "warn" },
                esc(&d.to_string())
            )
        })
        .collect();
    let problems = if problems.is_empty() {
        "<p>No problems found.</p>".to_string()
    } else {
        format!(
            "<details><summary>{} warning(s)</summary><ul>{problems}</ul></details>",
            ws.diagnostics.len()
        )
    };
    let body = format!(
        "<h1>Templates</h1><p>{} plan(s), {} template file(s). Edits to <code>templates/</code> and <code>jobs/</code> show here after the next reload.</p>{}{problems}\
<table id=\"templates\"><tr><th>Template</th><th>Kind</th><th>Languages</th><th>Used by (plan / touch)</th></tr>{rows}</table>",
        ws.plans.len(),
        ws.catalog.names().len(),
        chooser_form("/preview", &c)
    );
    super::no_store(Html(page("Templates", &body)).into_response())
}

/// Login attempts per client network and minute.
const LOGINS_PER_MINUTE: u32 = 10;

/// `GET /report?from=D&to=D&by=G`: the owner's report page (`report --html`) for the period
/// (default the last 30 days) behind the preview login — one bookmark for the owner.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ReportQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    by: Option<String>,
}

/// Serves the report page to a signed-in owner.
pub(super) async fn report(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ReportQuery>) -> Response {
    use crate::report::practice::By;
    use clap::ValueEnum;
    let Some(token) = configured(&state) else {
        return super::not_found();
    };
    if !authorized(&token, &headers) {
        return login_page(false);
    }
    let ws = state.workspace.get();
    let config = &ws.config;
    let by = match q.by.as_deref().map(|b| By::from_str(b, true)) {
        None => By::Source,
        Some(Ok(by)) => by,
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "by: one of source, plan, touch, agent\n").into_response(),
    };
    let to = q.to.unwrap_or_else(|| crate::clock::Clock::System.today(config.sender_tz()));
    let from = q.from.unwrap_or(crate::report::read::default_from(to));
    if from > to {
        return (StatusCode::BAD_REQUEST, "from is after to\n").into_response();
    }
    let page = async {
        let p = crate::report::read::practice(&state.store, by, from, to, config.report.relationship_years).await?;
        crate::report::html::for_period(&state.store, config, &p).await
    };
    match page.await {
        Ok(html) => super::no_store(Html(html).into_response()),
        Err(e) => super::unavailable(e),
    }
}

/// `POST /preview/login`: trades the token for the session cookie. Each client network may
/// try [`LOGINS_PER_MINUTE`] times a minute (429 after), so a token cannot be guessed by
/// trying.
pub(super) async fn login(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Login>,
) -> Response {
    let Some(token) = configured(&state) else {
        return super::not_found();
    };
    let ip_header = state.workspace.get().config.server.client_ip_header.clone();
    let network = super::lead_form::client_network(&headers, peer, &ip_header);
    match super::leads::over_limit(&state, &format!("preview-login:{network}"), LOGINS_PER_MINUTE).await {
        Ok(false) => {}
        Ok(true) => {
            tracing::warn!(network, "preview login: too many tries this minute");
            return super::too_many("Too many tries: wait a minute.\n");
        }
        Err(e) => return super::unavailable(e),
    }
    if !same_token(&form.token, &token, LABEL) {
        tracing::warn!("preview login with a wrong token");
        return login_page(true);
    }
    // `Secure` when the server is reached over HTTPS (its public URL says so).
    let config = &state.workspace.get().config;
    let secure = config.sms_inbound_url().starts_with("https://");
    let cookie = format!(
        "{COOKIE}={}; Path=/preview; Max-Age={SESSION_SECS}; HttpOnly; SameSite=Strict{}",
        session(&token, crate::clock::Clock::unix_now()),
        if secure { "; Secure" } else { "" }
    );
    let mut r = Redirect::to("/preview").into_response();
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `GET /preview/t/{template}`: one template rendered for the chosen contact.
pub(super) async fn message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(template): Path<String>,
    Query(c): Query<Chooser>,
) -> Response {
    let Some(token) = configured(&state) else {
        return super::not_found();
    };
    if !authorized(&token, &headers) {
        return login_page(false);
    }
    let ws = state.workspace.get();
    let contact = match choose_contact(&state, &ws, &c).await {
        Ok(contact) => contact,
        Err(message) => return problem(&template, &c, StatusCode::NOT_FOUND, &message),
    };
    let today = match c.date.trim() {
        "" => crate::clock::Clock::System.today(ws.config.sender_tz()),
        d => match d.parse::<NaiveDate>() {
            Ok(d) => d,
            Err(_) => return problem(&template, &c, StatusCode::BAD_REQUEST, "date: expected YYYY-MM-DD"),
        },
    };
    let who = match contact.display_name() {
        Some(n) => format!("{} ({})", esc(&n), esc(&contact.id.0)),
        None => esc(&contact.id.0),
    };
    let rendered = match preview::render(&ws, &contact, &template, today) {
        Ok(p) => p,
        Err(PreviewError::NotFound(_)) => return problem(&template, &c, StatusCode::NOT_FOUND, "no such template"),
        Err(e) => return problem(&template, &c, StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    };
    let action = format!("/preview/t/{template}");
    let intro = format!(
        "<h1>{}</h1><p>For {who} on {today}.</p>{}",
        esc(&template),
        chooser_form(&action, &c)
    );
    let body = match rendered {
        Preview::Email(e) => {
            let to = match contact.display_name() {
                Some(name) => format!("{name} <{}>", contact.email().unwrap_or_default()),
                None => contact.email().unwrap_or_default().to_string(),
            };
            let mut rows = format!(
                "<tr><th>Subject (as read)</th><td id=\"subject\" dir=\"auto\">{}</td></tr><tr><th>To (as read)</th><td dir=\"auto\">{}</td></tr>\
<tr><th>Template file</th><td>{}.email.hbs</td></tr>",
                esc(&e.message.subject),
                esc(&to),
                esc(&e.message.template)
            );
            for (k, v) in &e.headers {
                rows.push_str(&format!("<tr><th>{}</th><td><code>{}</code></td></tr>", esc(k), esc(v)));
            }
            format!(
                "{intro}<table class=\"headers\" id=\"headers\">{rows}</table><h2>HTML</h2>\
<iframe id=\"html\" title=\"HTML part\" sandbox srcdoc=\"{}\"></iframe>\
<h2>Plain-text part</h2><pre id=\"text\" dir=\"auto\">{}</pre>\
<details><summary>Raw message (as sent)</summary><pre id=\"eml\">{}</pre></details>",
                esc(&e.message.html),
                esc(&e.message.text),
                esc(&e.eml)
            )
        }
        Preview::Sms(s) => {
            let parts: String = if s.parts.len() > 1 {
                s.parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        format!(
                            "<h3>Part {} of {}</h3><pre class=\"part\" dir=\"auto\">{}</pre>",
                            i + 1,
                            s.parts.len(),
                            esc(p)
                        )
                    })
                    .collect()
            } else {
                String::new()
            };
            format!(
                "{intro}<table class=\"headers\" id=\"headers\"><tr><th>To</th><td>{}</td></tr><tr><th>Template file</th><td>{}.sms.hbs</td></tr>\
<tr><th>Encoding</th><td id=\"encoding\">{}</td></tr><tr><th>Characters</th><td id=\"units\">{}</td></tr>\
<tr><th>Segments</th><td id=\"segments\">{}</td></tr></table>{}<h2>Message</h2><pre id=\"sms\" dir=\"auto\">{}</pre>{parts}",
                esc(s.to.as_deref().unwrap_or("(no phone)")),
                esc(&s.message.template),
                s.segments.encoding,
                s.segments.units,
                s.segments.parts,
                s.not_sent
                    .as_deref()
                    .map(|why| format!("<p class=\"error\" id=\"not-sent\">{}</p>", esc(why)))
                    .unwrap_or_default(),
                esc(&s.message.body)
            )
        }
    };
    super::no_store(Html(page(&template, &body)).into_response())
}

async fn choose_contact(state: &AppState, ws: &Workspace, c: &Chooser) -> Result<Contact, String> {
    let id = c.contact.trim();
    if id.is_empty() {
        return Ok(ws.sample_contact_in(if c.locale.is_empty() { "en" } else { &c.locale }));
    }
    let found = state.store.lookup(id, &ws.config.contacts.default_region).await.map_err(|e| {
        tracing::error!(error = %e, "preview: reading a contact failed");
        "contacts are unavailable right now".to_string()
    })?;
    found.ok_or_else(|| format!("no contact {id:?}"))
}

fn problem(template: &str, c: &Chooser, status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1>{}<pre class=\"error\" id=\"problem\">{}</pre>",
        esc(template),
        chooser_form(&format!("/preview/t/{template}"), c),
        esc(message)
    );
    (status, super::no_store(Html(page(template, &body)).into_response())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_cookie_need_the_right_token() {
        let mut h = HeaderMap::new();
        assert!(!authorized("s3cret", &h));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(authorized("s3cret", &h));
        h.insert(header::AUTHORIZATION, "Bearer s3cre".parse().unwrap());
        assert!(!authorized("s3cret", &h));
        let mut h = HeaderMap::new();
        let now = crate::clock::Clock::unix_now();
        h.insert(header::COOKIE, format!("a=b; {COOKIE}={}", session("s3cret", now)).parse().unwrap());
        assert!(authorized("s3cret", &h));
        assert!(!authorized("other", &h), "a cookie made from another token");
        assert!(!session("s3cret", now).contains("s3cret"));
        // It expires, and its time cannot be moved without the token.
        let old = session("s3cret", now - SESSION_SECS - 1);
        assert!(!valid_session("s3cret", &old, now));
        let (_, mac) = old.split_once('.').unwrap();
        assert!(!valid_session("s3cret", &format!("{now}.{mac}"), now));
    }
}
