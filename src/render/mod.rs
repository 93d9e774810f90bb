//! Templates: the strict handlebars [`Catalog`] loaded from `templates/`, the render context,
//! and the rendered messages ([`RenderedEmail`], [`RenderedSms`]).
//!
//! Two registries share the same files: `html` escapes contact fields (email bodies), `text`
//! does not (subjects, plain-text parts, SMS). Strict mode makes a missing variable an error
//! naming the template file, line and variable, so an empty string never goes out.

pub mod context;
mod flat;
pub mod helpers;
pub mod segments;

use crate::diagnostic::Diagnostic;
use handlebars::{Handlebars, RenderErrorReason};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A message that could not be rendered.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct RenderError {
    /// Template file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong (e.g. `missing variable contact.first_name`).
    pub message: String,
    /// The variable without a value, when that is the problem (`contact.first_name`).
    pub missing: Option<String>,
    /// The unknown helper, when that is the problem.
    pub unknown_helper: Option<String>,
}

/// A rendered email, before compliance checks and MIME.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderedEmail {
    /// Subject (one line; line breaks removed).
    pub subject: String,
    /// HTML body.
    pub html: String,
    /// Plain-text part (`NAME.text.hbs`, else derived from the HTML).
    pub text: String,
    /// The template name actually used (after locale resolution).
    pub template: String,
}

/// A rendered SMS body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderedSms {
    /// Text as it will be sent.
    pub body: String,
    /// The template name actually used.
    pub template: String,
}

/// The kinds of template file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `NAME.email.hbs`
    Email,
    /// `NAME.text.hbs`
    Text,
    /// `NAME.sms.hbs`
    Sms,
}

impl Kind {
    fn suffix(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Text => "text",
            Kind::Sms => "sms",
        }
    }
}

/// Every template of the `templates/` folder, parsed and registered.
#[derive(Clone)]
pub struct Catalog {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
    /// The same registries with partials and layouts written in ([`flat`]): what messages
    /// are rendered with. An error is reported from the originals (its file and line).
    fast_html: Handlebars<'static>,
    fast_text: Handlebars<'static>,
    /// The source registered under each name, per registry (for [`flat`]).
    html_sources: BTreeMap<String, String>,
    text_sources: BTreeMap<String, String>,
    files: BTreeMap<String, PathBuf>,
    broken: std::collections::BTreeSet<String>,
    /// Email template → characters before its subject text on line 1.
    subject_col: BTreeMap<String, usize>,
    /// Template names (`8x8/welcome.email`, `partials/footer`, ...).
    names: Vec<String>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("names", &self.names).finish()
    }
}

const SUBJECT: &str = "#subject";

impl Catalog {
    /// Loads and parses every `*.hbs` below `dir`; returns the catalog and every problem found.
    pub fn load(dir: &Path) -> (Catalog, Vec<Diagnostic>) {
        let mut cat = Catalog {
            html: registry(true),
            text: registry(false),
            fast_html: registry(true),
            fast_text: registry(false),
            html_sources: BTreeMap::new(),
            text_sources: BTreeMap::new(),
            files: BTreeMap::new(),
            broken: Default::default(),
            subject_col: BTreeMap::new(),
            names: Vec::new(),
        };
        let mut diags = Vec::new();
        if !dir.is_dir() {
            diags.push(Diagnostic::error(dir.display().to_string(), 0, 0, "template folder not found"));
            return (cat, diags);
        }
        let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "hbs"))
            .map(|e| e.into_path())
            .collect();
        paths.sort();
        for path in paths {
            let rel = path.strip_prefix(dir).unwrap_or(&path).with_extension("");
            let name = rel.to_string_lossy().replace('\\', "/");
            let file = path.display().to_string();
            let source = match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(e) => {
                    diags.push(Diagnostic::error(&file, 0, 0, format!("cannot read: {e}")));
                    continue;
                }
            };
            cat.files.insert(name.clone(), path.clone());
            if name.ends_with(".email") {
                match split_email(&source) {
                    Ok((subject, body)) => {
                        let first = source.lines().next().unwrap_or("");
                        let offset = first.find(subject.as_str()).map_or(0, |b| first[..b].chars().count());
                        cat.subject_col.insert(name.clone(), offset);
                        cat.register(&format!("{name}{SUBJECT}"), &subject, &file, false, &mut diags);
                        cat.register(&name, &body, &file, true, &mut diags);
                    }
                    Err(msg) => {
                        cat.broken.insert(name.clone());
                        diags.push(Diagnostic::error(&file, 1, 1, msg));
                    }
                }
            } else {
                // Partials and layouts go in both registries; text/sms only need the text one.
                let html_too = !(name.ends_with(".text") || name.ends_with(".sms"));
                cat.register(&name, &source, &file, html_too, &mut diags);
            }
            cat.names.push(name);
        }
        cat.fast_html = flattened(&cat.html, &cat.html_sources);
        cat.fast_text = flattened(&cat.text, &cat.text_sources);
        (cat, diags)
    }

    fn register(&mut self, name: &str, source: &str, file: &str, html: bool, diags: &mut Vec<Diagnostic>) {
        let result = if html {
            // The text registry gets the plain-text twin of the HTML, derived once here rather
            // than converting every rendered message (html2text was 42% of delivery CPU).
            let text = derive_text_template(source);
            self.html.register_template_string(name, source).and_then(|_| {
                self.html_sources.insert(name.to_string(), source.to_string());
                self.text.register_template_string(name, &text).map_err(|e| {
                    handlebars::TemplateError::of(handlebars::TemplateErrorReason::InvalidSyntax(format!(
                        "the plain-text part derived from this HTML does not parse ({}); add a {} file",
                        e.reason(),
                        name.replace(".email", ".text.hbs")
                    )))
                })?;
                self.text_sources.insert(name.to_string(), text);
                Ok(())
            })
        } else {
            self.text.register_template_string(name, source).map(|_| {
                self.text_sources.insert(name.to_string(), source.to_string());
            })
        };
        if let Err(e) = result {
            self.broken.insert(name.trim_end_matches(SUBJECT).to_string());
            let (line, col) = e.pos().unwrap_or((0, 0));
            diags.push(Diagnostic::error(file, line, col, format!("template syntax: {}", e.reason())));
        }
    }

    /// A copy with stand-ins for missing partials (empty) and layouts (just the body), so
    /// `lint` can go on checking a template past a reference it has already reported.
    pub fn with_stubs(&self, partials: &[String], layouts: &[String]) -> Catalog {
        let mut copy = self.clone();
        for (names, source) in [(partials, ""), (layouts, "{{> @partial-block}}")] {
            for name in names {
                for registry in [&mut copy.html, &mut copy.text] {
                    let _ = registry.register_template_string(name, source);
                }
            }
        }
        (copy.fast_html, copy.fast_text) = (copy.html.clone(), copy.text.clone());
        copy
    }

    /// Every template name.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// True if `name` (e.g. `8x8/welcome.email`) failed to parse (already reported).
    pub fn is_broken(&self, name: &str) -> bool {
        self.broken.contains(name)
    }

    /// The file behind a template name.
    pub fn file(&self, name: &str) -> Option<&Path> {
        self.files.get(name).map(PathBuf::as_path)
    }

    /// True if `NAME.kind` exists.
    pub fn has(&self, name: &str, kind: Kind) -> bool {
        self.files.contains_key(&format!("{name}.{}", kind.suffix()))
    }

    /// The template to use for a locale: `NAME.ar` for Arabic contacts when it exists, else `NAME`.
    pub fn resolve(&self, name: &str, kind: Kind, arabic: bool) -> String {
        if arabic && self.has(&format!("{name}.ar"), kind) {
            format!("{name}.ar")
        } else {
            name.to_string()
        }
    }

    /// Renders `NAME.email` (+ `NAME.text` if present) with `ctx` (taken by value: it becomes
    /// the handlebars context without a copy).
    pub fn render_email(&self, name: &str, ctx: serde_json::Value) -> Result<RenderedEmail, RenderError> {
        let base = format!("{name}.email");
        if !self.files.contains_key(&base) {
            return Err(self.missing(&base));
        }
        // One context for the three renders (render() would clone the data each time).
        let ctx = handlebars::Context::from(ctx);
        let subject = self.render_text(&format!("{base}{SUBJECT}"), &ctx, &base)?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let html = render(&self.fast_html, &self.html, &base, &ctx).map_err(|e| self.error(&base, e))?;
        let html = html.trim_start().to_string();
        let text_name = format!("{name}.text");
        let text = if self.files.contains_key(&text_name) {
            self.render_text(&text_name, &ctx, &text_name)?
        } else {
            tidy_text(&self.render_text(&base, &ctx, &base)?)
        };
        Ok(RenderedEmail {
            subject,
            html,
            text,
            template: name.to_string(),
        })
    }

    /// Renders `NAME.sms` with `ctx`.
    pub fn render_sms(&self, name: &str, ctx: &serde_json::Value) -> Result<RenderedSms, RenderError> {
        let full = format!("{name}.sms");
        if !self.files.contains_key(&full) {
            return Err(self.missing(&full));
        }
        let ctx = handlebars::Context::wraps(ctx).map_err(|e| self.error(&full, e))?;
        let body = self.render_text(&full, &ctx, &full)?;
        Ok(RenderedSms {
            body: body.trim().to_string(),
            template: name.to_string(),
        })
    }

    fn render_text(&self, name: &str, ctx: &handlebars::Context, fallback: &str) -> Result<String, RenderError> {
        render(&self.fast_text, &self.text, name, ctx).map_err(|e| self.error(fallback, e))
    }

    fn missing(&self, name: &str) -> RenderError {
        RenderError {
            file: format!("templates/{name}.hbs"),
            line: 0,
            col: 0,
            message: "template not found".into(),
            missing: None,
            unknown_helper: None,
        }
    }

    fn error(&self, fallback: &str, e: handlebars::RenderError) -> RenderError {
        let name = e.template_name.clone().unwrap_or_else(|| fallback.to_string());
        let in_subject = name.ends_with(SUBJECT);
        let name = name.trim_end_matches(SUBJECT).to_string();
        let file = self
            .files
            .get(&name)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("templates/{name}.hbs"));
        let (mut missing, mut unknown_helper) = (None, None);
        let message = match e.reason() {
            RenderErrorReason::MissingVariable(Some(v)) => {
                missing = Some(v.clone());
                format!("missing variable `{v}` (strict mode: every variable must have a value)")
            }
            RenderErrorReason::PartialNotFound(p) => format!("partial not found: {p}"),
            RenderErrorReason::HelperNotFound(h) => {
                unknown_helper = Some(h.clone());
                format!("unknown helper `{h}`")
            }
            other => other.to_string(),
        };
        let (line, col) = match (e.line_no, e.column_no) {
            // The subject is its own template: place it on line 1 after `subject:`.
            (Some(_), Some(c)) if in_subject => (1, c + self.subject_col.get(&name).copied().unwrap_or(0)),
            (l, c) => (l.unwrap_or(0), c.unwrap_or(0)),
        };
        RenderError {
            file,
            line,
            col,
            message,
            missing,
            unknown_helper,
        }
    }
}

/// Renders with the fast registry; on an error, again with the original one, whose error
/// names the partial's own file and line (and whose output is the reference, should the two
/// ever disagree).
fn render(
    fast: &Handlebars<'static>,
    original: &Handlebars<'static>,
    name: &str,
    ctx: &handlebars::Context,
) -> Result<String, handlebars::RenderError> {
    fast.render_with_context(name, ctx)
        .or_else(|_| original.render_with_context(name, ctx))
}

/// A copy of `registry` with each template whose partials and layout can be written in
/// ([`flat::flatten`]) registered again that way.
fn flattened(registry: &Handlebars<'static>, sources: &BTreeMap<String, String>) -> Handlebars<'static> {
    let mut fast = registry.clone();
    for (name, source) in sources {
        if let Some(flat) = flat::flatten(source, sources)
            && fast.register_template_string(name, &flat).is_err()
        {
            // Cannot happen for sources that parsed; the original stays in place then.
            let _ = fast.register_template_string(name, source);
        }
    }
    fast
}

fn registry(escape_html: bool) -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    if !escape_html {
        h.register_escape_fn(handlebars::no_escape);
    }
    helpers::register(&mut h);
    h
}

/// Splits `subject: ...\n---\nbody`. The body keeps its line numbers (blank lines stand in
/// for the header) so errors point at the right line of the file.
fn split_email(source: &str) -> Result<(String, String), String> {
    let mut lines = source.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    let Some(subject) = first.trim_end().strip_prefix("subject:") else {
        return Err("an email template starts with a `subject: ...` line, then `---`".into());
    };
    let second = lines.next().unwrap_or("");
    if second.trim() != "---" {
        return Err("line 2 must be `---` (it ends the header of an email template)".into());
    }
    let body: String = lines.collect();
    Ok((subject.trim().to_string(), format!("\n\n{body}")))
}

/// HTML-escapes `s` exactly as the templates' `{{...}}` expressions do (handlebars' own
/// escaper), so a rendered value can be found again in the HTML.
pub fn escape_html(s: &str) -> String {
    handlebars::html_escape(s)
}

/// The plain-text twin of an HTML template: tags become text layout (links become
/// footnotes), `{{...}}` expressions pass through as text. Lines are not wrapped, so no
/// expression is split.
pub fn derive_text_template(html_source: &str) -> String {
    // Links become `text (url)` inline: footnote numbers would repeat across partials.
    static LINK: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r#"(?is)<a\s[^>]*?href\s*=\s*"([^"]*)"[^>]*>(.*?)</a>"#).expect("valid regex"));
    let inlined = LINK.replace_all(html_source, |c: &regex::Captures<'_>| {
        let (url, text) = (&c[1], &c[2]);
        if url.strip_prefix("mailto:") == Some(text) || url == text {
            text.to_string()
        } else {
            format!("{text} ({url})")
        }
    });
    html2text::config::plain_no_decorate()
        .raw_mode(true)
        .no_link_wrapping()
        .string_from_read(inlined.as_bytes(), 100_000)
        .unwrap_or_else(|_| html_source.to_string())
}

/// Trims trailing spaces and runs of blank lines left by layouts and partials.
fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog(files: &[(&str, &str)]) -> (tempfile::TempDir, Catalog, Vec<Diagnostic>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        let (c, d) = Catalog::load(dir.path());
        (dir, c, d)
    }

    #[test]
    fn strict_mode_names_file_line_and_variable() {
        let (_d, c, diags) = catalog(&[("w.email.hbs", "subject: Hi\n---\n<p>\nHello {{contact.nick}}</p>\n")]);
        assert!(diags.is_empty());
        let e = c.render_email("w", json!({"contact": {"first_name": "A"}})).unwrap_err();
        assert!(e.file.ends_with("w.email.hbs"));
        assert_eq!(e.line, 4);
        assert!(e.message.contains("nick"), "{}", e.message);
    }

    #[test]
    fn html_escapes_fields_and_subject_stays_one_line() {
        let (_d, c, _) = catalog(&[(
            "w.email.hbs",
            "subject: Hi {{contact.first_name}}\n---\n<p>{{contact.first_name}}</p>\n",
        )]);
        let r = c
            .render_email("w", json!({"contact": {"first_name": "<b>A\r\nBcc: x@y.z"}}))
            .unwrap();
        assert!(r.html.contains("&lt;b&gt;A"));
        assert!(!r.subject.contains('\n') && !r.subject.contains('\r'));
        assert!(r.text.contains("<b>A") || r.text.contains("A"));
    }

    #[test]
    fn syntax_errors_have_positions_and_missing_header_is_reported() {
        let (_d, _c, diags) = catalog(&[("a.sms.hbs", "Hi\n{{contact.first_name}\n"), ("b.email.hbs", "<p>no header</p>")]);
        let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert!(shown.iter().any(|s| s.contains("a.sms.hbs:2:")), "{shown:?}");
        assert!(
            shown
                .iter()
                .any(|s| s.contains("b.email.hbs:1:1: error: an email template starts with")),
            "{shown:?}"
        );
    }

    /// Every shipped template renders byte for byte the same with its partials and layout
    /// written in as through handlebars' partials, for contacts with and without the
    /// optional fields; and most of them are written in (else the fast path does nothing).
    #[test]
    fn written_in_partials_render_the_shipped_templates_identically() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let (c, diags) = Catalog::load(&dir);
        assert!(diags.is_empty(), "{diags:?}");
        let base = json!({
            "sender": {"name": "Sara <Haddad>", "email": "sara@example.com", "postal_address": "12 Main St"},
            "agent": {"name": "Sara", "email": "sara@example.com", "phone": "+12175550100"},
            "unsubscribe_url": "https://n.example.com/u/abc?x=1&y=2",
            "plan": {"id": "8x8", "name": "8x8"}, "touch": {"id": "t1"}, "today": "2026-11-20",
        });
        let mut contexts = Vec::new();
        for contact in [
            json!({"first_name": "Olivia & Co", "last_name": "Bench", "email": "o@example.com", "phone": "+12175550101", "city": "Springfield"}),
            json!({"first_name": "أحمد", "email": "a@example.com"}),
            json!({"email": "nobody@example.com"}),
        ] {
            let mut ctx = base.clone();
            ctx["contact"] = contact;
            contexts.push(ctx);
        }
        let mut written_in = 0;
        for name in c.names() {
            for (fast, original, sources) in [(&c.fast_html, &c.html, &c.html_sources), (&c.fast_text, &c.text, &c.text_sources)] {
                let Some(source) = sources.get(name) else { continue };
                written_in += usize::from(flat::flatten(source, sources).is_some());
                for ctx in &contexts {
                    let ctx = handlebars::Context::wraps(ctx).unwrap();
                    let (a, b) = (fast.render_with_context(name, &ctx), original.render_with_context(name, &ctx));
                    match (a, b) {
                        (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}"),
                        (Err(_), Err(_)) => {}
                        (a, b) => panic!("{name}: written in {:?}, as partials {:?}", a.is_ok(), b.is_ok()),
                    }
                }
            }
        }
        assert!(written_in >= 40, "only {written_in} templates written in");
        for sources in [&c.html_sources, &c.text_sources] {
            let flat = flat::flatten(&sources["8x8/welcome.email"], sources).unwrap();
            assert!(!flat.contains("{{>") && !flat.contains("{{#>"), "{flat}");
        }
    }

    #[test]
    fn arabic_variant_is_preferred_for_arabic_contacts() {
        let (_d, c, _) = catalog(&[("w.sms.hbs", "Hi"), ("w.ar.sms.hbs", "مرحبا")]);
        assert_eq!(c.resolve("w", Kind::Sms, true), "w.ar");
        assert_eq!(c.resolve("w", Kind::Sms, false), "w");
        assert_eq!(c.render_sms("w.ar", &json!({})).unwrap().body, "مرحبا");
    }
}
