//! `[[webhooks]]`: where nurture's events go out to other systems (a CRM, an accounting sheet,
//! Zapier), and which events each one takes. Its own file: it stands alone.

use super::Secret;
use serde::{Deserialize, Serialize};

/// Every event a webhook can take (`erased` goes to every webhook whatever its `events`).
pub const EVENTS: [&str; 9] = [
    "lead",
    "response",
    "stage",
    "deal",
    "unsubscribe",
    "bounce",
    "complaint",
    "sent",
    "erased",
];

/// One `[[webhooks]]` entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Its name (`nurture webhooks test NAME`; in logs and dead letters).
    pub name: String,
    /// Where events are POSTed: `https://`, or `http://` to a loopback host only.
    pub url: String,
    /// The signing secret (Standard Webhooks): `whsec_` + base64 of the key, or any text
    /// (its bytes are the key).
    pub secret: Secret,
    /// The events it takes (default: all of [`EVENTS`]).
    pub events: Vec<String>,
}

impl WebhookConfig {
    /// True when this webhook takes events of `kind`.
    pub fn takes(&self, kind: &str) -> bool {
        kind == "erased" || self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }
}

/// What is wrong with the `[[webhooks]]` entries, one sentence each.
pub fn problems(hooks: &[WebhookConfig]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, h) in hooks.iter().enumerate() {
        let at = format!("[[webhooks]] #{} ({:?})", i + 1, h.name);
        if h.name.trim().is_empty() || h.name.contains(char::is_whitespace) {
            out.push(format!("{at}: name: give it a name without spaces (name = \"crm\")"));
        } else if hooks[..i].iter().any(|o| o.name == h.name) {
            out.push(format!("{at}: name: used twice; each webhook needs its own"));
        }
        if let Some(why) = url_problem(&h.url) {
            out.push(format!("{at}: url: {why}"));
        }
        if h.secret.is_empty() {
            out.push(format!("{at}: secret: required; receivers verify the signature with it"));
        }
        for e in &h.events {
            if !EVENTS.contains(&e.as_str()) {
                out.push(format!("{at}: events: {e:?} is not one of {}", EVENTS.join(", ")));
            }
        }
    }
    out
}

/// Why `url` cannot take events: not a URL, or plain `http://` to another host than loopback.
fn url_problem(url: &str) -> Option<String> {
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return Some(format!("{url:?} is not a URL ({e})")),
    };
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match parsed.scheme() {
        "https" => None,
        "http" if loopback => None,
        "http" => Some(format!(
            "{url:?}: events carry personal data; use https:// (plain http:// only to a loopback host)"
        )),
        other => Some(format!("{url:?}: {other}:// is not http(s)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(name: &str, url: &str, events: &[&str]) -> WebhookConfig {
        WebhookConfig {
            name: name.into(),
            url: url.into(),
            secret: Secret::new("whsec_c2VjcmV0"),
            events: events.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn plain_http_only_to_loopback_and_names_are_unique() {
        assert!(problems(&[hook("crm", "https://crm.example.com/hook", &[])]).is_empty());
        assert!(problems(&[hook("local", "http://127.0.0.1:9000/hook", &["deal"])]).is_empty());
        let p = problems(&[
            hook("crm", "http://crm.example.com/hook", &[]),
            hook("crm", "https://x.example.com", &["deals"]),
            hook("", "nope", &[]),
        ]);
        assert_eq!(p.len(), 5, "{p:#?}");
        assert!(p[0].contains("use https://") && p[1].contains("used twice") && p[2].contains("\"deals\" is not one of"));
    }

    #[test]
    fn erased_goes_to_every_webhook() {
        let h = hook("crm", "https://crm.example.com", &["deal"]);
        assert!(h.takes("deal") && h.takes("erased") && !h.takes("sent"));
        assert!(hook("all", "https://a.example.com", &[]).takes("sent"));
    }
}
