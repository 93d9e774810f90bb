//! `file:line:col: severity: message` — the one shape of every problem found in a file — and
//! its long form for people: the offending line of the file with a caret under the column,
//! as rustc and cargo print them. (annotate-snippets puts the location on a second line,
//! `--> file:line:col`; editors and CI parse the first-line form, so the snippet is drawn
//! here, with `unicode-width` for columns of Arabic and wide characters.)

use serde::Serialize;
use std::fmt;
use unicode_width::UnicodeWidthChar;

/// How bad a problem is: errors stop `lint` and `run`, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops the run.
    Error,
    /// Reported only.
    Warning,
}

/// One problem in one file.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    /// The file, as given to the loader.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, naming the field.
    pub message: String,
    /// How to fix it, when there is an obvious way (`did you mean ...?`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Characters the problem spans from `col` (0 or 1: a single caret).
    #[serde(skip_serializing_if = "is_zero")]
    pub len: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Diagnostic {
    /// An error at `file:line:col`.
    pub fn error(file: impl Into<String>, line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            col,
            severity: Severity::Error,
            message: message.into(),
            help: None,
            len: 0,
        }
    }
    /// A warning at `file:line:col`.
    pub fn warning(file: impl Into<String>, line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            col,
            severity: Severity::Warning,
            message: message.into(),
            help: None,
            len: 0,
        }
    }
    /// Adds a hint on how to fix it.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// Marks `len` characters from the column.
    pub fn with_len(mut self, len: usize) -> Self {
        self.len = len;
        self
    }
    /// The same problem as a warning.
    pub fn as_warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }
    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {sev}: {}", self.file, self.line.max(1), self.col.max(1), self.message)
    }
}

impl Diagnostic {
    /// The one-line form, then the offending line of the file with a caret under the column,
    /// then the help. Reads the file; without a readable file or a line, only the first line.
    pub fn render(&self) -> String {
        let source = std::fs::read_to_string(&self.file).ok();
        self.render_with(source.as_deref())
    }

    /// [`Diagnostic::render`] with the file's text given.
    pub fn render_with(&self, source: Option<&str>) -> String {
        let mut out = self.to_string();
        let raw = source.filter(|_| self.line > 0).and_then(|s| s.lines().nth(self.line - 1));
        let line = raw.map(|text| if self.file.ends_with(".toml") { masked(text) } else { text.into() });
        // A parser's message may quote the value (`invalid type: integer `12345``): not a secret's.
        if let (Some(raw), Some(shown)) = (raw, line.as_deref())
            && raw != shown
        {
            let value = raw.split_once('=').map_or("", |(_, v)| v);
            let quoted: Vec<&str> = out
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|q| !q.is_empty() && value.contains(*q))
                .collect();
            for q in quoted.into_iter().map(str::to_string).collect::<Vec<_>>() {
                out = out.replace(&format!("`{q}`"), "(hidden)");
            }
        }
        if let Some(text) = line.as_deref() {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            // Spaces of the same display width as the text before the column; tabs stay tabs.
            let before: String = text
                .chars()
                .take(self.col.max(1) - 1)
                .map(|c| {
                    if c == '\t' {
                        "\t".to_string()
                    } else {
                        " ".repeat(c.width().unwrap_or(0))
                    }
                })
                .collect();
            let marked: usize = text
                .chars()
                .skip(self.col.max(1) - 1)
                .take(self.len.max(1))
                .map(|c| c.width().unwrap_or(0))
                .sum();
            out.push_str(&format!(
                "\n{pad} |\n{number} | {}\n{pad} | {before}{}",
                text.trim_end(),
                "^".repeat(marked.max(1))
            ));
        }
        if let Some(help) = &self.help {
            let pad = " ".repeat(self.line.max(1).to_string().len());
            out.push_str(&format!("\n{pad} = help: {help}"));
        }
        out
    }
}

/// A line of a TOML file as a diagnostic may show it: the value of a secret (a key, token,
/// secret, password or pepper, or a URL with credentials) is replaced by as many `*`, so the
/// caret still points where it did and no secret reaches a terminal or a CI log.
fn masked(text: &str) -> std::borrow::Cow<'_, str> {
    let Some((name, value)) = text.split_once('=') else {
        return text.into();
    };
    let key = name.trim().trim_matches('"').to_ascii_lowercase();
    let secret = ["secret", "token", "password", "pepper"].iter().any(|s| key.contains(s))
        || key == "key"
        || key.ends_with("_key")
        || key == "imap"
        || (value.contains("://") && value.contains('@'));
    if !secret {
        return text.into();
    }
    let hidden: String = value
        .chars()
        .map(|c| if c.is_whitespace() || c == '"' || c == '\'' { c } else { '*' })
        .collect();
    format!("{name}={hidden}").into()
}

/// 1-based (line, col) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|s| s.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_a_compiler() {
        let d = Diagnostic::error("jobs/8x8.toml", 3, 7, "unknown channel \"fax\"");
        assert_eq!(d.to_string(), "jobs/8x8.toml:3:7: error: unknown channel \"fax\"");
    }

    #[test]
    fn a_secret_on_the_line_shown_is_masked() {
        let d = Diagnostic::error("nurture.toml", 2, 10, "bad");
        let out = d.render_with(Some("[x]\nsecret = \"hunter2\" oops\nbase_url = \"https://a\""));
        assert!(out.contains("secret = \"*******\" ****") && !out.contains("hunter2"), "{out}");
        let out = Diagnostic::error("nurture.toml", 1, 1, "bad").render_with(Some("url = \"redis://:pw@h:6379\""));
        assert!(!out.contains("pw@"), "{out}");
        let typed = Diagnostic::error("nurture.toml", 1, 10, "invalid type: integer `12345`, expected a string");
        let out = typed.render_with(Some("secret = 12345"));
        assert!(!out.contains("12345") && out.contains("invalid type: integer (hidden)"), "{out}");
        let out = Diagnostic::error("nurture.toml", 1, 1, "bad").render_with(Some("base_url = \"https://a\""));
        assert!(out.contains("https://a"), "{out}");
    }

    #[test]
    fn render_shows_the_line_and_a_caret() {
        let d = Diagnostic::error("t.hbs", 2, 8, "missing variable `contact.nick`")
            .with_len(12)
            .with_help("did you mean `contact.first_name`?");
        let src = "subject: hi\n<p>Hi {{contact.nick}}</p>\n";
        assert_eq!(
            d.render_with(Some(src)),
            "t.hbs:2:8: error: missing variable `contact.nick`\n  |\n2 | <p>Hi {{contact.nick}}</p>\n  |        ^^^^^^^^^^^^\n  = help: did you mean `contact.first_name`?"
        );
        // Arabic letters are one column wide; the caret lands under the brace.
        let ar = Diagnostic::error("a.hbs", 1, 7, "x").render_with(Some("مرحبا {{x}"));
        assert!(ar.ends_with("1 | مرحبا {{x}\n  |       ^"), "{ar}");
        assert_eq!(Diagnostic::error("gone.hbs", 3, 1, "x").render_with(None), "gone.hbs:3:1: error: x");
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("", 0), (1, 1));
    }
}
