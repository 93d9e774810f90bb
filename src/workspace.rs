//! The workspace: config + plans + templates loaded together, with every problem found.
//! `lint` IS this loader, and `run`, `work` and `preview` use it too, so "run sends nothing
//! when lint fails" holds by construction.

mod check;
pub mod live;
mod promises;
mod secrets;

pub use check::ColumnUse;
pub use live::Live;

use crate::compliance::token;
use crate::config::Config;
use crate::contacts::{Contact, ContactId, KNOWN_COLUMNS};
use crate::diagnostic::Diagnostic;
use crate::plans::{self, Plan};
use crate::render::{Catalog, context};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Everything a run needs from files.
#[derive(Debug)]
pub struct Workspace {
    /// The configuration.
    pub config: Config,
    /// Plans by id.
    pub plans: BTreeMap<String, Plan>,
    /// Templates.
    pub catalog: Catalog,
    /// Every problem found (errors and warnings).
    pub diagnostics: Vec<Diagnostic>,
    /// The contact columns the templates need, and where.
    pub columns: Vec<ColumnUse>,
}

impl Workspace {
    /// Loads plans and templates named by `config` and checks them together.
    pub fn load(config: Config) -> Workspace {
        let (plans, mut diagnostics) = plans::load_dir(&config.resolve(&config.paths.jobs));
        let (catalog, template_diags) = Catalog::load(&config.resolve(&config.paths.templates));
        diagnostics.extend(template_diags);
        let mut ws = Workspace {
            config,
            plans,
            catalog,
            diagnostics,
            columns: Vec::new(),
        };
        ws.check_sender();
        ws.check_unsubscribe_base();
        ws.check_secrets();
        ws.check_references();
        ws.check_promises();
        ws
    }

    /// True when there is no error (warnings allowed).
    pub fn is_ok(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// A contact with every known column filled, for checking templates.
    pub fn sample_contact(&self) -> Contact {
        self.sample_contact_in("en")
    }

    /// The sample contact in a locale: Arabic (`ar...`) gets an Arabic name and locale.
    pub fn sample_contact_in(&self, locale: &str) -> Contact {
        let arabic = locale.to_ascii_lowercase().starts_with("ar");
        let mut fields = BTreeMap::new();
        for c in KNOWN_COLUMNS {
            let v = match *c {
                "email" => "sample@example.com",
                "phone" => "+15550100100",
                "enrolled_on" => "2026-01-01",
                "birthday" => "05-17",
                "anniversary" => "2020-06-01",
                "home_purchase" => "2019-09-15",
                "locale" => locale,
                "first_name" if arabic => "سارة",
                "last_name" if arabic => "العلي",
                "timezone" if arabic => "Asia/Riyadh",
                "timezone" => "America/Chicago",
                "first_name" => "Sam",
                "last_name" => "Sample",
                _ => "sample",
            };
            fields.insert(c.to_string(), v.to_string());
        }
        Contact {
            id: ContactId("sample@example.com".into()),
            fields,
            plan_history: vec![],
            responded_on: None,
            former: vec![],
        }
    }

    /// The render context of `contact` for a touch of `plan`.
    pub fn context(&self, contact: &Contact, plan_id: &str, touch: &str, today: NaiveDate) -> serde_json::Value {
        let plan_name = self.plans.get(plan_id).map(|p| p.name.as_str()).unwrap_or(plan_id);
        let sender = &self.config.sender;
        let agent = match self.config.agent(contact.get("agent")) {
            Some(a) => (a.name.as_str(), a.email.as_str(), a.phone.as_str()),
            None => (sender.name.as_str(), sender.email.as_str(), sender.phone.as_str()),
        };
        let env = context::Envelope {
            sender,
            agent,
            plan: (plan_id, plan_name),
            touch,
            today,
            unsubscribe_url: self.unsubscribe_url(contact),
        };
        context::build(contact, &env)
    }

    /// The contact's unsubscribe link, bound to the address the email goes to (opaque: it
    /// shows neither).
    pub fn unsubscribe_url(&self, contact: &Contact) -> String {
        token::unsubscribe_url(
            &self.config.unsubscribe.base_url,
            self.config.unsubscribe_secret(),
            &contact.id.0,
            contact.email().unwrap_or(""),
        )
    }

    /// A From address at a free-mail domain fails DMARC when sent from any other server.
    fn check_sender(&mut self) {
        let domain = self
            .config
            .sender
            .email
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        if crate::compliance::FREE_MAIL.contains(&domain.as_str()) {
            let message = format!(
                "[sender] email: {domain} is a free-mail domain; its DMARC policy rejects mail sent from other servers — use your own domain"
            );
            self.config_problem("sender", "email", message, false);
        }
        // Agents send From their own address: on another domain than the sender's, DKIM and
        // SPF (set up for the sender's domain) do not align with it under DMARC.
        let agents: Vec<(String, String)> = self
            .config
            .agents
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    a.email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default(),
                )
            })
            .filter(|(_, d)| *d != domain)
            .collect();
        for (key, agent_domain) in agents {
            let message = format!(
                "[agents.{key}] email: {agent_domain} is not the sender's domain {domain}; mail From it fails DMARC unless that domain signs (DKIM) and authorizes (SPF) nurture's server too"
            );
            self.config_problem(&format!("agents.{key}"), "email", message, true);
        }
    }

    /// An unsubscribe link people cannot open (loopback, private network, plain HTTP) is a
    /// CAN-SPAM violation once mail leaves the machine.
    fn check_unsubscribe_base(&mut self) {
        if let Some(problem) = crate::compliance::token::unreachable_base(&self.config.unsubscribe.base_url) {
            let message = format!(
                "[unsubscribe] base_url: {problem}; recipients could not unsubscribe — set the public HTTPS address of `nurture serve` \
                 (for local tests with a real SMTP server: [unsubscribe] allow_local_base_url = true)"
            );
            let tolerated = self.config.unsubscribe.allow_local_base_url;
            self.config_problem("unsubscribe", "base_url", message, tolerated);
        }
    }

    /// A problem with a `nurture.toml` key, at its line and column: an error once mail leaves
    /// the machine (real SMTP), a warning while it goes to files or when `tolerated`.
    fn config_problem(&mut self, section: &str, key: &str, message: String, tolerated: bool) {
        let file = self.config.source.clone();
        let (line, column) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|text| key_position(&text, section, key))
            .unwrap_or((1, 1));
        self.diagnostics
            .push(if tolerated || self.config.smtp.url.expose().starts_with("file://") {
                Diagnostic::warning(file, line, column, message)
            } else {
                Diagnostic::error(file, line, column, message)
            });
    }
}

/// Line and column (1-based) of `key`'s value in `[section]` of a TOML text.
fn key_position(text: &str, section: &str, key: &str) -> Option<(usize, usize)> {
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('[') {
            inside = t.trim_end().trim_start_matches('[').split(']').next() == Some(section);
        } else if inside && t.split(['=', ' ']).next() == Some(key) {
            let eq = line.find('=')?;
            let rest = &line[eq + 1..];
            return Some((i + 1, eq + 1 + (rest.len() - rest.trim_start().len()) + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_in_its_own_section() {
        let text = "[sender]\nemail = \"a@b.c\"\n\n[unsubscribe]\n  base_url =  \"http://x\"\n";
        assert_eq!(key_position(text, "unsubscribe", "base_url"), Some((5, 15)));
        assert_eq!(key_position(text, "sender", "email"), Some((2, 9)));
        assert_eq!(key_position(text, "sender", "base_url"), None);
    }
}
