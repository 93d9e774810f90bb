//! The workspace: config + plans + templates loaded together, with every problem found.
//! `lint` IS this loader, and `run`, `work` and `preview` use it too, so "run sends nothing
//! when lint fails" holds by construction.

use crate::compliance::token;
use crate::config::Config;
use crate::contacts::{Contact, ContactId, KNOWN_COLUMNS};
use crate::diagnostic::Diagnostic;
use crate::plans::{self, Channel, Plan};
use crate::render::{Catalog, Kind, context};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};

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
        };
        ws.check_sender();
        ws.check_references();
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
        let mut fields = BTreeMap::new();
        for c in KNOWN_COLUMNS {
            let v = match *c {
                "email" => "sample@example.com",
                "phone" => "+15550100100",
                "enrolled_on" => "2026-01-01",
                "birthday" => "05-17",
                "anniversary" => "2020-06-01",
                "timezone" => "America/Chicago",
                "locale" => "en",
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
        }
    }

    /// The render context of `contact` for a touch of `plan`.
    pub fn context(&self, contact: &Contact, plan_id: &str, touch: &str, today: NaiveDate) -> serde_json::Value {
        let plan_name = self.plans.get(plan_id).map(|p| p.name.as_str()).unwrap_or(plan_id);
        let env = context::Envelope {
            sender: &self.config.sender,
            plan: (plan_id, plan_name),
            touch,
            today,
            unsubscribe_url: self.unsubscribe_url(contact),
        };
        context::build(contact, &env)
    }

    /// The contact's signed unsubscribe link.
    pub fn unsubscribe_url(&self, contact: &Contact) -> String {
        token::unsubscribe_url(&self.config.unsubscribe.base_url, self.config.unsubscribe_secret(), &contact.id.0)
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
            let file = self.config.source.clone();
            let line = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.lines().position(|l| l.trim_start().starts_with("email")))
                .map_or(1, |i| i + 1);
            let message = format!(
                "[sender] email: {domain} is a free-mail domain; its DMARC policy rejects mail sent from other servers — use your own domain"
            );
            self.diagnostics.push(if self.config.smtp.url.expose().starts_with("file://") {
                Diagnostic::warning(file, line, 1, message)
            } else {
                Diagnostic::error(file, line, 1, message)
            });
        }
    }

    fn check_references(&mut self) {
        let mut used: BTreeSet<String> = BTreeSet::new();
        let sample = self.sample_contact();
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let mut found = Vec::new();
        let mut checked: BTreeSet<String> = BTreeSet::new();
        for plan in self.plans.values() {
            for touch in &plan.touches {
                let (Some(name), false) = (&touch.template, touch.channel.is_manual()) else {
                    continue;
                };
                let kind = if touch.channel == Channel::Email { Kind::Email } else { Kind::Sms };
                let suffix = if kind == Kind::Email { "email" } else { "sms" };
                if !self.catalog.has(name, kind) {
                    found.push(Diagnostic::error(
                        &plan.file,
                        touch.line,
                        1,
                        format!("touch {:?}: template {name}.{suffix}.hbs not found", touch.id),
                    ));
                    continue;
                }
                let variants = [name.clone(), format!("{name}.ar")];
                for variant in variants.iter().filter(|v| self.catalog.has(v, kind)) {
                    let parts = [format!("{variant}.{suffix}"), format!("{variant}.text")];
                    if parts.iter().any(|p| self.catalog.is_broken(p)) || !checked.insert(format!("{variant}.{suffix}")) {
                        continue;
                    }
                    for text in [format!("{variant}.{suffix}"), format!("{variant}.text")] {
                        used.insert(text);
                    }
                    let ctx = self.context(&sample, &plan.id, &touch.id, today);
                    let result = match kind {
                        Kind::Email => self.catalog.render_email(variant, ctx).map(|e| {
                            let url = self.unsubscribe_url(&sample);
                            for problem in crate::compliance::email_problems(&e, &url, &self.config.sender.postal_address) {
                                found.push(self.at(variant, suffix, problem));
                            }
                            if crate::compliance::is_reply_subject(&e.subject) {
                                found.push(self.at(
                                    variant,
                                    suffix,
                                    "subject: a subject starting with Re: or Fwd: misrepresents the message (CAN-SPAM)",
                                ));
                            }
                        }),
                        _ => self.catalog.render_sms(variant, &ctx).map(|s| {
                            if let Some(problem) = crate::compliance::sms_problem(&s.body, &self.config.sms.opt_out_text) {
                                found.push(self.at(variant, suffix, &problem));
                            }
                            let seg = crate::render::segments::count(&s.body);
                            if seg.parts > self.config.sms.max_segments {
                                let mut d = self.at(
                                    variant,
                                    suffix,
                                    &format!(
                                        "the SMS is {} parts ({} {} units for a sample contact); [sms] max_segments is {}",
                                        seg.parts, seg.units, seg.encoding, self.config.sms.max_segments
                                    ),
                                );
                                d.severity = crate::diagnostic::Severity::Warning;
                                found.push(d);
                            }
                        }),
                    };
                    if let Err(e) = result {
                        let msg = format!("{} (used by {} touch {:?})", e.message, plan.id, touch.id);
                        found.push(if is_custom_field(&e.message) {
                            Diagnostic::warning(
                                &e.file,
                                e.line,
                                e.col,
                                format!("{msg}; a custom field must be on every contact that gets this touch, or the message is not sent"),
                            )
                        } else {
                            Diagnostic::error(&e.file, e.line, e.col, msg)
                        });
                    }
                }
            }
        }
        for name in self.catalog.names() {
            let is_message = [".email", ".sms"].iter().any(|s| name.ends_with(s));
            if is_message && !used.contains(name) {
                let file = self.catalog.file(name).map(|p| p.display().to_string()).unwrap_or_default();
                found.push(Diagnostic::warning(file, 1, 1, "no plan uses this template"));
            }
        }
        self.diagnostics.extend(found);
    }

    fn at(&self, name: &str, suffix: &str, message: &str) -> Diagnostic {
        let full = format!("{name}.{suffix}");
        let file = self.catalog.file(&full).map(|p| p.display().to_string()).unwrap_or(full);
        Diagnostic::error(file, 1, 1, message)
    }
}

/// True when a render error is a missing `contact.<custom column>` (a warning: some contacts
/// may have it); a missing known column or system variable is a typo (an error).
fn is_custom_field(message: &str) -> bool {
    let Some(var) = message.split('`').nth(1).filter(|_| message.starts_with("missing variable")) else {
        return false;
    };
    let name = var.strip_prefix("contact.").unwrap_or(var);
    let system = [
        "sender",
        "unsubscribe_url",
        "plan",
        "touch",
        "today",
        "contact",
        "name",
        "email",
        "postal_address",
        "id",
    ];
    !KNOWN_COLUMNS.contains(&name) && !system.contains(&name) && (var.starts_with("contact.") || !var.contains('.'))
}
