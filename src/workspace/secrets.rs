//! The keys people on the internet present (lead sources, `/preview`, `/events`, `/metrics`,
//! `/inbound/email`): each long enough not to be guessed and each its own — a key shared
//! between two doors opens both — and no inbound SMS taken unsigned while SMS go out for real.

use super::Workspace;

/// Shortest key accepted (`openssl rand -hex 16` gives 32 characters).
pub const MIN_KEY_LENGTH: usize = 16;

impl Workspace {
    /// Checks every bearer key and the inbound SMS signature setting.
    pub(super) fn check_secrets(&mut self) {
        let c = &self.config;
        let mut keys: Vec<(String, &'static str, String)> = c
            .leads
            .sources
            .iter()
            .map(|(name, s)| (format!("leads.sources.{name}"), "key", s.key.expose().to_string()))
            .collect();
        keys.push(("server".into(), "preview_token", c.server.preview_token.expose().to_string()));
        keys.push(("server".into(), "events_token", c.server.events_token.expose().to_string()));
        keys.push(("server".into(), "metrics_token", c.server.metrics_token.expose().to_string()));
        keys.push(("inbound".into(), "token", c.inbound.token.expose().to_string()));
        let mut problems = Vec::new();
        for (i, (section, key, value)) in keys.iter().enumerate() {
            if value.is_empty() {
                continue;
            }
            if value.chars().count() < MIN_KEY_LENGTH {
                problems.push((
                    section.clone(),
                    *key,
                    format!(
                        "[{section}] {key}: {} characters; a key needs at least {MIN_KEY_LENGTH} (make one with `openssl rand -hex 16`)",
                        value.chars().count()
                    ),
                ));
            }
            if let Some((other, other_key, _)) = keys[..i].iter().find(|(_, _, v)| v == value) {
                problems.push((
                    section.clone(),
                    *key,
                    format!("[{section}] {key}: the same value as [{other}] {other_key}; give each its own key (a shared key opens both)"),
                ));
            }
        }
        if c.sms.allow_unsigned_inbound && c.sms.provider != "file" {
            problems.push((
                "sms".into(),
                "allow_unsigned_inbound",
                "[sms] allow_unsigned_inbound: anyone could text STOP or START for anyone through /sms/inbound; it is for local tests with the file provider only — remove it and set auth_token".into(),
            ));
        }
        for (section, key, message) in problems {
            self.config_problem(&section, key, message, false);
        }
    }
}
