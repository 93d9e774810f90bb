//! What `lint` checks across plans and templates together: every template a plan names exists
//! and renders; every variable comes from a contact column or a system variable; every partial
//! and layout exists; no message template is orphaned; the compliance content rules hold.
//!
//! Variables are found by rendering, not by reading the template: each template renders
//! against a sample contact, and every variable strict mode reports missing is recorded with
//! its position, given a placeholder, and the render repeats — so every problem of a template
//! is reported at once, with handlebars' own scoping. A second pass with a contact that has
//! only an address finds the columns a template uses without an `{{#if}}` guard; with a
//! [`Census`] of the stored contacts, `lint` says how many contacts lack each of them.

use super::Workspace;
use crate::contacts::census::Census;
use crate::contacts::{Contact, ContactId, KNOWN_COLUMNS};
use crate::diagnostic::Diagnostic;
use crate::plans::Channel;
use crate::render::{Catalog, Kind, RenderError, RenderedEmail, RenderedSms};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A contact column a template needs, where, and for which touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnUse {
    /// The column (`pet`, `first_name`).
    pub column: String,
    /// True for a column nurture knows (found unguarded by the address-only pass).
    pub known: bool,
    /// Template file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// `plan touch "id"` of the first touch that uses the template.
    pub used_by: String,
}

/// Variables every message has besides `contact.*`.
const SYSTEM: &[&str] = &[
    "sender.name",
    "sender.email",
    "sender.postal_address",
    "agent.name",
    "agent.email",
    "agent.phone",
    "unsubscribe_url",
    "plan.id",
    "plan.name",
    "touch.id",
    "today",
];

/// Helpers a template can call (handlebars' built-ins and nurture's).
const HELPERS: &[&str] = &[
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "log",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "and",
    "or",
    "not",
    "len",
    "default",
    "upper",
    "lower",
    "capitalize",
    "title",
    "date",
    "plain",
];

/// What a discovered variable is given so the render can go on (a date, so `date` accepts it).
const PLACEHOLDER: &str = "2026-05-17";

/// Most renders of one template while discovering its variables.
const MAX_RENDERS: usize = 64;

/// A variable strict mode reported missing.
struct Need {
    path: String,
    file: String,
    line: usize,
    col: usize,
}

/// A message rendered for the sample contact (placeholders in the variables it lacked).
enum Rendered {
    Email(RenderedEmail),
    Sms(RenderedSms),
}

/// Everything one template needs, and how the discovery ended: the rendered message, or the
/// error that stopped it (neither when a variable could not be placed).
struct Discovery {
    needs: Vec<Need>,
    rendered: Option<Rendered>,
    error: Option<RenderError>,
}

impl Workspace {
    /// Checks every message template the plans name (and its Arabic variant), the partials
    /// and layouts they use, and warns about message templates no plan uses.
    pub(super) fn check_references(&mut self) {
        let (mut found, stubs) = partial_references(&self.catalog);
        // Missing partials and layouts are reported once; stand-ins let the checks go on.
        let stubbed;
        let catalog = if stubs.0.is_empty() && stubs.1.is_empty() {
            &self.catalog
        } else {
            stubbed = self.catalog.with_stubs(&stubs.0, &stubs.1);
            &stubbed
        };
        let mut used: BTreeSet<String> = BTreeSet::new();
        let mut checked: BTreeSet<String> = BTreeSet::new();
        let mut columns = Vec::new();
        let sample = self.sample_contact();
        let bare = address_only(&sample);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        for plan in self.plans.values() {
            for touch in &plan.touches {
                let (Some(name), false) = (&touch.template, touch.channel.is_manual()) else {
                    continue;
                };
                let kind = if touch.channel == Channel::Email { Kind::Email } else { Kind::Sms };
                let suffix = if kind == Kind::Email { "email" } else { "sms" };
                if !self.catalog.has(name, kind) {
                    let mut d = Diagnostic::error(
                        &plan.file,
                        touch.line,
                        1,
                        format!("touch {:?}: template {name}.{suffix}.hbs not found", touch.id),
                    );
                    if let Some(close) = closest(
                        name,
                        self.catalog.names().iter().filter_map(|n| n.strip_suffix(&format!(".{suffix}"))),
                    ) {
                        d = d.with_help(format!("did you mean \"{close}\"?"));
                    }
                    found.push(d);
                    continue;
                }
                let used_by = format!("{} touch {:?}", plan.id, touch.id);
                for variant in [name.clone(), format!("{name}.ar")].iter().filter(|v| self.catalog.has(v, kind)) {
                    used.insert(format!("{variant}.{suffix}"));
                    used.insert(format!("{variant}.text"));
                    let parts = [format!("{variant}.{suffix}"), format!("{variant}.text")];
                    if parts.iter().any(|p| self.catalog.is_broken(p)) || !checked.insert(format!("{variant}.{suffix}")) {
                        continue;
                    }
                    let column_use = |need: Need| ColumnUse {
                        known: contact_column(&need.path).is_some_and(|c| KNOWN_COLUMNS.contains(&c)),
                        column: contact_column(&need.path).unwrap_or_default().to_string(),
                        file: need.file,
                        line: need.line,
                        col: need.col,
                        used_by: used_by.clone(),
                    };
                    let ctx = self.context(&sample, &plan.id, &touch.id, today);
                    let full = discover(catalog, variant, kind, ctx);
                    for need in full.needs {
                        match contact_column(&need.path) {
                            Some(_) => columns.push(column_use(need)),
                            None => found.push(unknown_variable(&need)),
                        }
                    }
                    if let Some(e) = full.error {
                        found.push(render_problem(e, &used_by));
                    }
                    if let Some(rendered) = &full.rendered {
                        found.extend(self.content_problems(variant, rendered, &sample));
                    }
                    let ctx = self.context(&bare, &plan.id, &touch.id, today);
                    for need in discover(catalog, variant, kind, ctx).needs {
                        if contact_column(&need.path).is_some_and(|c| KNOWN_COLUMNS.contains(&c)) {
                            columns.push(column_use(need));
                        }
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
        columns.dedup();
        self.columns = columns;
        self.diagnostics.extend(found);
    }

    /// The compliance content rules and the SMS length, on the message the discovery rendered.
    fn content_problems(&self, variant: &str, rendered: &Rendered, sample: &Contact) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        match rendered {
            Rendered::Email(e) => {
                let url = self.unsubscribe_url(sample);
                for problem in crate::compliance::email_problems(e, &url, &self.config.sender.postal_address) {
                    found.push(self.at(variant, "email", problem));
                }
                if crate::compliance::is_reply_subject(&e.subject) {
                    found.push(self.at(
                        variant,
                        "email",
                        "subject: a subject starting with Re: or Fwd: misrepresents the message (CAN-SPAM)",
                    ));
                }
            }
            Rendered::Sms(s) => {
                if let Some(problem) = crate::compliance::sms_problem(&s.body, &self.config.sms.opt_out_text) {
                    found.push(self.at(variant, "sms", &problem));
                }
                let seg = crate::render::segments::count(&s.body);
                if seg.parts > self.config.sms.max_segments {
                    found.push(
                        self.at(
                            variant,
                            "sms",
                            &format!(
                                "the SMS is {} parts ({} {} units for a sample contact); [sms] max_segments is {}",
                                seg.parts, seg.units, seg.encoding, self.config.sms.max_segments
                            ),
                        )
                        .as_warning(),
                    );
                }
            }
        }
        found
    }

    fn at(&self, name: &str, suffix: &str, message: &str) -> Diagnostic {
        let full = format!("{name}.{suffix}");
        let file = self.catalog.file(&full).map(|p| p.display().to_string()).unwrap_or(full);
        Diagnostic::error(file, 1, 1, message)
    }

    /// The contact columns the templates need that are not nurture's own (`run` checks that
    /// each exists on some contact).
    pub fn custom_columns(&self) -> BTreeSet<String> {
        self.columns.iter().filter(|u| !u.known).map(|u| u.column.clone()).collect()
    }

    /// Every contact column the templates need without a guard (`lint` counts them all).
    pub fn needed_columns(&self) -> BTreeSet<String> {
        self.columns.iter().map(|u| u.column.clone()).collect()
    }

    /// Adds what the stored contacts say about the columns the templates need: an error for a
    /// custom column no contact has, a warning with a count for a column some contacts lack.
    /// `None`: contacts were not read (no Redis, or a command that does not need it).
    pub fn apply_census(&mut self, census: Option<&Census>) {
        let guard =
            |c: &str| format!("guard it with {{{{#if contact.{c}}}}}…{{{{/if}}}} or give a fallback: {{{{default contact.{c} \"…\"}}}}");
        let mut seen = BTreeSet::new();
        let mut found = Vec::new();
        for u in &self.columns {
            if !seen.insert((u.file.clone(), u.line, u.col, u.column.clone())) {
                continue;
            }
            let at = |d: fn(String, usize, usize, String) -> Diagnostic, message: String| {
                d(u.file.clone(), u.line, u.col, message).with_len(u.column.len() + "contact.".len())
            };
            let having = census.and_then(|c| c.having(&u.column));
            match (census, having) {
                (None, _) | (Some(_), None) if !u.known => found.push(
                    at(
                        warning,
                        format!(
                            "custom field `contact.{}` ({}): a contact without it does not get this message (contacts not checked)",
                            u.column, u.used_by
                        ),
                    )
                    .with_help(typo_or_guard(&u.column)),
                ),
                (Some(c), Some(_)) if c.contacts == 0 && !u.known => found.push(
                    at(
                        warning,
                        format!(
                            "custom field `contact.{}` ({}): no contacts imported yet to check it",
                            u.column, u.used_by
                        ),
                    )
                    .with_help(typo_or_guard(&u.column)),
                ),
                (Some(c), Some(0)) if c.complete && !u.known => {
                    let mut d = at(
                        error,
                        format!(
                            "`contact.{}` ({}): no contact has a `{}` column ({} contacts checked)",
                            u.column, u.used_by, u.column, c.contacts
                        ),
                    );
                    if let Some(close) = closest(&u.column, KNOWN_COLUMNS.iter().copied()) {
                        d = d.with_help(format!("did you mean `contact.{close}`?"));
                    }
                    found.push(d);
                }
                (Some(c), Some(n)) if c.complete && n < c.contacts => found.push(
                    at(
                        warning,
                        format!(
                            "`contact.{}` ({}) is empty for {} of {} contacts: they will not get this message",
                            u.column,
                            u.used_by,
                            c.contacts - n,
                            c.contacts
                        ),
                    )
                    .with_help(guard(&u.column)),
                ),
                _ => {}
            }
        }
        found.extend(census.and_then(|c| self.consent_census(c)));
        self.diagnostics.extend(found);
    }

    /// A warning on the first text message when stored contacts with a phone have no SMS
    /// consent: they get none of the plans' texts, and `run` would only count them.
    fn consent_census(&self, census: &Census) -> Option<Diagnostic> {
        let n = census.phones_without_consent;
        if !census.complete || n == 0 || !self.config.sms.require_consent {
            return None;
        }
        let text = self.catalog.names().iter().filter(|t| t.ends_with(".sms")).min()?;
        let file = self.catalog.file(text).map_or_else(|| text.clone(), |p| p.display().to_string());
        Some(
            warning(
                file,
                1,
                1,
                format!(
                    "{n} of {} contact(s) with a phone have no SMS consent recorded: they get no texts ([sms] require_consent)",
                    census.phones
                ),
            )
            .with_help(
                "import it in a consent column (`sms_consent`, `SMS OK`, `Text OK`: yes, or the date and where it was given), \
                 or let them opt in on the lead form's SMS box"
                    .to_string(),
            ),
        )
    }
}

/// "did you mean `contact.first_name`?" for a likely typo, else how to guard the field.
fn typo_or_guard(column: &str) -> String {
    match closest(column, KNOWN_COLUMNS.iter().copied()) {
        Some(close) => format!("did you mean `contact.{close}`? (a custom field otherwise: guard it with {{{{#if contact.{column}}}}})"),
        None => {
            format!("guard it with {{{{#if contact.{column}}}}}…{{{{/if}}}} or give a fallback: {{{{default contact.{column} \"…\"}}}}")
        }
    }
}

fn error(file: String, line: usize, col: usize, message: String) -> Diagnostic {
    Diagnostic::error(file, line, col, message)
}

fn warning(file: String, line: usize, col: usize, message: String) -> Diagnostic {
    Diagnostic::warning(file, line, col, message)
}

/// The sample contact reduced to what every contact has: id, addresses, locale and plan.
fn address_only(sample: &Contact) -> Contact {
    let keep = ["email", "phone", "locale", "plan", "enrolled_on"];
    Contact {
        id: ContactId(sample.id.0.clone()),
        fields: sample
            .fields
            .iter()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        plan_history: vec![],
        responded_on: None,
        former: vec![],
    }
}

/// Renders `name` again and again, giving each missing variable a placeholder, until it
/// renders, fails otherwise, or a variable cannot be placed.
fn discover(catalog: &Catalog, name: &str, kind: Kind, mut ctx: Value) -> Discovery {
    let mut needs: Vec<Need> = Vec::new();
    let stopped = |needs, error| Discovery {
        needs,
        rendered: None,
        error,
    };
    for _ in 0..MAX_RENDERS {
        let result = match kind {
            Kind::Email => catalog.render_email(name, ctx.clone()).map(Rendered::Email),
            _ => catalog.render_sms(name, &ctx).map(Rendered::Sms),
        };
        let e = match result {
            Ok(rendered) => {
                return Discovery {
                    needs,
                    rendered: Some(rendered),
                    error: None,
                };
            }
            Err(e) => e,
        };
        let Some(path) = e.missing.clone() else {
            return stopped(needs, Some(e));
        };
        let (line, col) = locate(&e, &path);
        needs.push(Need {
            path: path.clone(),
            file: e.file.clone(),
            line,
            col,
        });
        if !inject(&mut ctx, &path) {
            return stopped(needs, None);
        }
    }
    stopped(needs, None)
}

/// The position of `needle` itself on the error's line (handlebars points at the `{{`).
fn locate(e: &RenderError, needle: &str) -> (usize, usize) {
    let line = std::fs::read_to_string(&e.file)
        .ok()
        .and_then(|t| t.lines().nth(e.line.saturating_sub(1)).map(str::to_string));
    let col = line
        .as_deref()
        .and_then(|l| {
            let from = l.char_indices().nth(e.col.saturating_sub(1)).map_or(0, |(b, _)| b);
            l[from..].find(needle).map(|b| l[..from + b].chars().count() + 1)
        })
        .unwrap_or(e.col);
    (e.line, col)
}

/// Gives `path` a placeholder value in `ctx`; false when it cannot be placed (a path that
/// climbs out of a block with `../`, or that is already there).
fn inject(ctx: &mut Value, path: &str) -> bool {
    let path = path
        .trim_start_matches("this.")
        .trim_start_matches("@root.")
        .trim_start_matches("./");
    if path.is_empty() || path.contains("..") || path.starts_with('@') {
        return false;
    }
    let segs: Vec<&str> = path.split(['.', '/']).filter(|s| !s.is_empty()).collect();
    let mut cur = ctx;
    for (i, seg) in segs.iter().enumerate() {
        let Value::Object(map) = cur else { return false };
        if i + 1 == segs.len() {
            if map.get(*seg).is_some_and(|v| !v.is_null()) {
                return false;
            }
            map.insert(seg.to_string(), Value::String(PLACEHOLDER.into()));
            return true;
        }
        cur = map.entry(seg.to_string()).or_insert_with(|| Value::Object(Default::default()));
    }
    false
}

/// `contact.pet` → `pet`; anything else → `None`.
fn contact_column(path: &str) -> Option<&str> {
    let path = path.trim_start_matches("this.").trim_start_matches("@root.");
    path.strip_prefix("contact.")
        .or_else(|| path.strip_prefix("contact/"))
        .filter(|c| !c.is_empty() && !c.contains(['.', '/']))
}

fn unknown_variable(need: &Need) -> Diagnostic {
    let candidates = SYSTEM
        .iter()
        .map(|s| s.to_string())
        .chain(KNOWN_COLUMNS.iter().map(|c| format!("contact.{c}")));
    let help = match closest(&need.path, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("variables are `contact.<column>` and {}", SYSTEM.join(", ")),
    };
    Diagnostic::error(
        &need.file,
        need.line,
        need.col,
        format!("`{}`: no contact column or system variable provides this variable", need.path),
    )
    .with_len(need.path.chars().count())
    .with_help(help)
}

fn render_problem(e: RenderError, used_by: &str) -> Diagnostic {
    let message = format!("{} (used by {used_by})", e.message);
    let Some(helper) = &e.unknown_helper else {
        return Diagnostic::error(&e.file, e.line, e.col, message);
    };
    let (line, col) = locate(&e, helper);
    let help = match closest(helper, HELPERS.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("helpers are {}", HELPERS.join(", ")),
    };
    Diagnostic::error(&e.file, line, col, message)
        .with_len(helper.chars().count())
        .with_help(help)
}

/// The candidate most like `word`, if one is close (Jaro-Winkler ≥ 0.8).
fn closest<S: AsRef<str>>(word: &str, candidates: impl IntoIterator<Item = S>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c.as_ref()), c.as_ref().to_string()))
        .filter(|(score, c)| *score >= 0.8 && c != word)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Every `{{> name}}` / `{{#> name}}` in every template file names a template (or an inline
/// partial of the same file); otherwise an error at the name, with the closest name. Also
/// returns the missing partials and layouts.
fn partial_references(catalog: &Catalog) -> (Vec<Diagnostic>, (Vec<String>, Vec<String>)) {
    static REF: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r#"\{\{~?\s*(#?)>\s*(?:"([^"]+)"|([^\s}~()"]+))"#).expect("valid regex"));
    static INLINE: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r#"\{\{~?\s*#\*inline\s+"([^"]+)""#).expect("valid regex"));
    let names: BTreeMap<&str, ()> = catalog.names().iter().map(|n| (n.as_str(), ())).collect();
    let mut found = Vec::new();
    let (mut partials, mut layouts) = (Vec::new(), Vec::new());
    for name in catalog.names() {
        let Some(path) = catalog.file(name) else { continue };
        let Ok(source) = std::fs::read_to_string(path) else { continue };
        let inline: BTreeSet<&str> = INLINE.captures_iter(&source).filter_map(|c| c.get(1)).map(|m| m.as_str()).collect();
        for c in REF.captures_iter(&source) {
            let Some(m) = c.get(2).or_else(|| c.get(3)) else { continue };
            let target = m.as_str();
            if target.starts_with('@') || names.contains_key(target) || inline.contains(target) {
                continue;
            }
            let block = c.get(1).is_some_and(|b| !b.as_str().is_empty());
            let what = if block || target.starts_with("layouts/") {
                "layout"
            } else {
                "partial"
            };
            if block { &mut layouts } else { &mut partials }.push(target.to_string());
            let (line, col) = crate::diagnostic::line_col(&source, m.start());
            let mut d = Diagnostic::error(
                path.display().to_string(),
                line,
                col,
                format!("unknown {what} `{target}`: no templates/{target}.hbs"),
            )
            .with_len(target.chars().count());
            if let Some(close) = closest(
                target,
                catalog.names().iter().filter(|n| !n.ends_with(".email") && !n.ends_with(".sms")),
            ) {
                d = d.with_help(format!("did you mean `{close}`?"));
            }
            found.push(d);
        }
    }
    (found, (partials, layouts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inject_builds_the_path_once() {
        let mut v = json!({"contact": {"first_name": "A"}});
        assert!(inject(&mut v, "contact.pet"));
        assert_eq!(v["contact"]["pet"], PLACEHOLDER);
        assert!(!inject(&mut v, "contact.pet"), "already there: injecting again cannot help");
        assert!(inject(&mut v, "shop.name"));
        assert!(!inject(&mut v, "../up"));
        assert!(!inject(&mut v, "contact.first_name.x"), "a string has no fields");
    }

    #[test]
    fn contact_columns_and_closest_names() {
        assert_eq!(contact_column("contact.pet"), Some("pet"));
        assert_eq!(contact_column("this.contact.pet"), Some("pet"));
        assert_eq!(contact_column("contact.a.b"), None);
        assert_eq!(contact_column("sender.name"), None);
        assert_eq!(closest("frist_name", KNOWN_COLUMNS.iter().copied()).as_deref(), Some("first_name"));
        assert_eq!(closest("zzz", KNOWN_COLUMNS.iter().copied()), None);
    }
}
