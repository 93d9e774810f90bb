//! The public lead form (`[leads] form = true`): `GET /leads/form/{source}` shows it,
//! `POST /leads/form/{source}` takes it through the same rules as `POST /leads`
//! ([`crate::leads::take`]) and answers with a redirect to the thank-you page (a reload posts
//! nothing twice). A filled honeypot stores nothing and gets the same thank-you; each client
//! network may post `[leads] form_per_minute` times a minute. A refused post shows the form
//! again with its values and what is wrong with each field.

use super::AppState;
use super::form_page::{self, HONEYPOT, SMS_CONSENT, Words};
use crate::leads::{self, Lead, Taken};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;

/// The fields of the form that become the lead.
const FIELDS: [&str; 5] = ["first_name", "last_name", "email", "phone", "message"];

/// The source's locale when the form is served for it, else `None` (404).
fn form_locale(state: &AppState, source: &str) -> Option<String> {
    let ws = state.workspace.get();
    let leads = &ws.config.leads;
    leads.form.then(|| leads.sources.get(source).map(|s| s.locale.clone())).flatten()
}

pub(super) async fn show(
    State(state): State<AppState>,
    Path(source): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(locale) = form_locale(&state, &source) else {
        return super::not_found();
    };
    let words = Words::for_locale(&locale);
    let sender = &state.workspace.get().config.sender;
    let page = if query.contains_key("sent") {
        form_page::thanks(words, &sender.name)
    } else {
        form_page::form(words, &sender.name, &sender.postal_address, &BTreeMap::new(), &BTreeMap::new())
    };
    secured(Html(page).into_response())
}

pub(super) async fn submit(
    State(state): State<AppState>,
    Path(source): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(locale) = form_locale(&state, &source) else {
        return super::not_found();
    };
    let ws = state.workspace.get();
    let words = Words::for_locale(&locale);
    let network = client_network(&headers, peer, &ws.config.server.client_ip_header);
    match super::leads::over_limit(&state, &format!("form:{network}"), ws.config.leads.form_per_minute).await {
        Ok(true) => {
            return secured(super::too_many(Html(form_page::too_many(words))));
        }
        Ok(false) => {}
        Err(e) => return super::unavailable(e),
    }
    let values: BTreeMap<String, String> = super::form_urlencoded_pairs(&body)
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_string()))
        .filter(|(k, v)| !v.is_empty() && (FIELDS.contains(&k.as_str()) || k == SMS_CONSENT || k == HONEYPOT))
        .collect();
    // Relative to this page's own address, so that a proxy's path prefix is kept.
    let thanks = Redirect::to("?sent=1").into_response();
    if values.contains_key(HONEYPOT) {
        state.metrics.lead_form_spam.fetch_add(1, Ordering::Relaxed);
        tracing::info!(source, "lead form: honeypot filled, nothing stored");
        return thanks;
    }
    let today = crate::clock::Clock::System.today(ws.config.sender_tz());
    let lead = lead_of(&values, &locale, today);
    let plans = ws.plans.keys().cloned().collect();
    match leads::take(&state.store, &ws.config, &plans, (&source, leads::Sender::Anonymous), &lead, today).await {
        Ok(Taken::Invalid { errors }) => {
            let sender = &ws.config.sender;
            let page = form_page::form(words, &sender.name, &sender.postal_address, &values, &errors);
            secured((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response())
        }
        Ok(Taken::Stored { contact, created, .. }) => {
            state.metrics.lead_form_posts.fetch_add(1, Ordering::Relaxed);
            if let (Some(id), true) = (contact, created && lead.fields.contains_key(crate::consent::PENDING)) {
                tokio::spawn(ask_consent(state.clone(), id, today));
            }
            thanks
        }
        Err(e) => super::unavailable(e),
    }
}

/// Texts a new contact of the form the request to confirm their SMS consent (in the
/// background: the visitor is thanked at once).
async fn ask_consent(state: AppState, contact_id: String, today: chrono::NaiveDate) {
    let config = state.workspace.get().config.clone();
    let asked = match state.store.contact(&contact_id).await {
        Ok(Some(c)) => crate::consent::ask(&state.store, &config, &c, today).await,
        Ok(None) => Ok(false),
        Err(e) => Err(e.into()),
    };
    match asked {
        Ok(sent) => tracing::info!(sent, "lead form: SMS consent confirmation"),
        Err(e) => tracing::warn!(error = %e, "lead form: the SMS consent confirmation was not sent"),
    }
}

/// The lead a form post makes: its fields, the source's locale, and a *pending* SMS consent
/// (with its date and where it was given) when the box was ticked and a phone given — the
/// number confirms it by replying YES ([`crate::consent`]).
fn lead_of(values: &BTreeMap<String, String>, locale: &str, today: chrono::NaiveDate) -> Lead {
    let get = |name: &str| values.get(name).cloned();
    let mut fields = BTreeMap::new();
    if values.contains_key(SMS_CONSENT) && values.contains_key("phone") {
        fields.insert(crate::consent::PENDING.to_string(), format!("{today} lead form"));
    }
    Lead {
        first_name: get("first_name"),
        last_name: get("last_name"),
        email: get("email"),
        phone: get("phone"),
        message: get("message"),
        locale: (!locale.is_empty()).then(|| locale.to_string()),
        fields,
        ..Lead::default()
    }
}

/// The client's network for the rate limit: its IPv4 address, or the /64 of an IPv6 one (a
/// client holds a whole /64). Behind a proxy, the last address of `[server]
/// client_ip_header`.
pub(super) fn client_network(headers: &HeaderMap, peer: SocketAddr, ip_header: &str) -> String {
    let forwarded = (!ip_header.is_empty())
        .then(|| headers.get_all(ip_header).iter().next_back())
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    match forwarded.unwrap_or(peer.ip()) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The form's pages load nothing from elsewhere and post only to this server.
fn secured(mut r: Response) -> Response {
    let policy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'";
    r.headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(policy));
    super::no_store(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_network_is_the_peer_or_the_proxys_last_address() {
        let peer: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(client_network(&headers, peer, ""), "10.0.0.9");
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        assert_eq!(client_network(&headers, peer, ""), "10.0.0.9", "no header configured: not trusted");
        assert_eq!(client_network(&headers, peer, "X-Forwarded-For"), "203.0.113.7");
        headers.insert("x-forwarded-for", "2001:db8:1:2:aaaa::1".parse().unwrap());
        assert_eq!(client_network(&headers, peer, "X-Forwarded-For"), "2001:db8:1:2::/64");
        headers.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(client_network(&headers, peer, "X-Forwarded-For"), "10.0.0.9");
    }

    #[test]
    fn sms_consent_needs_the_box_and_a_phone() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let mut values = BTreeMap::from([("email".to_string(), "a@example.com".to_string())]);
        values.insert(SMS_CONSENT.into(), "yes".into());
        assert!(lead_of(&values, "", today).fields.is_empty());
        values.insert("phone".into(), "+12175550100".into());
        let lead = lead_of(&values, "ar", today);
        assert_eq!(lead.fields[crate::consent::PENDING], "2026-12-06 lead form");
        assert_eq!(lead.locale.as_deref(), Some("ar"));
    }
}
