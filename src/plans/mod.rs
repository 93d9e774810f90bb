//! Plans: one `jobs/*.toml` file each ([`Plan`], [`Touch`], [`Channel`]), loaded with
//! `file:line:col` diagnostics. Expansion into due touches is in [`expand`].

pub mod expand;

use crate::diagnostic::{Diagnostic, line_col};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use toml::Spanned;

/// How a touch reaches the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Queued email.
    Email,
    /// Queued SMS.
    Sms,
    /// Phone call (agenda).
    Call,
    /// Letter by post (agenda).
    Letter,
    /// Hand-written card (agenda).
    Card,
    /// Small gift (agenda).
    Gift,
}

impl Channel {
    /// True for channels a person carries out (they go to the agenda, not the queue).
    pub fn is_manual(self) -> bool {
        !matches!(self, Channel::Email | Channel::Sms)
    }
    /// The suppression list that governs this channel: `sms` for SMS, `email` otherwise.
    pub fn suppression_list(self) -> &'static str {
        if self == Channel::Sms { "sms" } else { "email" }
    }
    /// Where `contact` is reached on this channel (email address, E.164 phone); `None` for a
    /// queued channel the contact has no address for. Manual channels need none.
    pub fn address(self, contact: &crate::contacts::Contact) -> Option<&str> {
        match self {
            Channel::Email => contact.email(),
            Channel::Sms => contact.phone(),
            _ => Some(""),
        }
    }
    /// Lower-case name, as in plan files.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Call => "call",
            Channel::Letter => "letter",
            Channel::Card => "card",
            Channel::Gift => "gift",
        }
    }
    fn parse(s: &str) -> Option<Channel> {
        Some(match s {
            "email" => Channel::Email,
            "sms" => Channel::Sms,
            "call" => Channel::Call,
            "letter" => Channel::Letter,
            "card" => Channel::Card,
            "gift" => Channel::Gift,
            _ => return None,
        })
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Touch {
    /// Unique within the plan.
    pub id: String,
    /// Days after enrollment.
    pub after_days: i64,
    /// Channel.
    pub channel: Channel,
    /// Template name (email and SMS), e.g. `8x8/welcome`.
    pub template: Option<String>,
    /// Instruction for manual touches.
    pub note: Option<String>,
    /// Line of the touch in its plan file (for diagnostics).
    pub line: usize,
}

/// An action plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// File stem.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Plan the contact moves to after its last touch.
    pub then: Option<String>,
    /// Steps, in file order.
    pub touches: Vec<Touch>,
    /// The file it came from.
    pub file: String,
}

impl Plan {
    /// Days from enrollment to the last touch.
    pub fn length_days(&self) -> i64 {
        self.touches.iter().map(|t| t.after_days).max().unwrap_or(0)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    name: Option<String>,
    then: Option<Spanned<String>>,
    #[serde(default)]
    touch: Vec<Spanned<RawTouch>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTouch {
    id: Spanned<String>,
    after: Option<Spanned<String>>,
    on: Option<Spanned<String>>,
    cron: Option<Spanned<String>>,
    at: Option<Spanned<String>>,
    channel: Spanned<String>,
    template: Option<Spanned<String>>,
    note: Option<String>,
}

/// Parses `"0d"`, `"3d"`, `"2w"` into days.
pub fn parse_duration_days(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: expected e.g. \"3d\" or \"2w\""))?;
    match unit {
        "d" => Ok(n),
        "w" => Ok(n * 7),
        _ => Err(format!("bad duration {s:?}: the unit must be d (days) or w (weeks)")),
    }
}

/// Loads every `*.toml` in `dir`. Returns the plans that parsed and every problem found.
pub fn load_dir(dir: &Path) -> (BTreeMap<String, Plan>, Vec<Diagnostic>) {
    let mut plans = BTreeMap::new();
    let mut diags = Vec::new();
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect(),
        Err(e) => {
            diags.push(Diagnostic::error(
                dir.display().to_string(),
                0,
                0,
                format!("cannot read plan folder: {e}"),
            ));
            return (plans, diags);
        }
    };
    files.sort();
    for path in files {
        let file = path.display().to_string();
        let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                if let Some(plan) = parse_plan(&id, &file, &text, &mut diags) {
                    plans.insert(id, plan);
                }
            }
            Err(e) => diags.push(Diagnostic::error(&file, 0, 0, format!("cannot read: {e}"))),
        }
    }
    let ids: HashSet<String> = plans.keys().cloned().collect();
    for plan in plans.values() {
        if let Some(then) = &plan.then
            && !ids.contains(then)
        {
            let line = plan_then_line(&plan.file);
            diags.push(Diagnostic::error(
                &plan.file,
                line,
                1,
                format!("then: no plan {then:?} in {}", dir.display()),
            ));
        }
    }
    (plans, diags)
}

/// Parses one plan file, pushing diagnostics; `None` if it cannot be used at all.
pub fn parse_plan(id: &str, file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Plan> {
    let raw: RawPlan = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            diags.push(Diagnostic::error(file, line, col, e.message().trim().to_string()));
            return None;
        }
    };
    let at = |offset: usize| line_col(text, offset);
    let mut seen = HashSet::new();
    let mut touches = Vec::new();
    let mut ok = true;
    for spanned in &raw.touch {
        let (tline, _) = at(spanned.span().start);
        let t = spanned.get_ref();
        let mut err = |offset: usize, msg: String| {
            let (l, c) = at(offset);
            diags.push(Diagnostic::error(file, l, c, msg));
            ok = false;
        };
        if !seen.insert(t.id.get_ref().clone()) {
            err(
                t.id.span().start,
                format!("touch id {:?} is used twice in this plan", t.id.get_ref()),
            );
        }
        let channel = Channel::parse(t.channel.get_ref());
        if channel.is_none() {
            err(
                t.channel.span().start,
                format!(
                    "channel: unknown channel {:?} (email, sms, call, letter, card, gift)",
                    t.channel.get_ref()
                ),
            );
        }
        for (field, v) in [("on", &t.on), ("cron", &t.cron), ("at", &t.at)] {
            if let Some(v) = v {
                err(
                    v.span().start,
                    format!("{field}: calendar touches are not supported by this version; use `after`"),
                );
            }
        }
        let after_days = match &t.after {
            Some(a) => match parse_duration_days(a.get_ref()) {
                Ok(d) => d,
                Err(m) => {
                    err(a.span().start, format!("after: {m}"));
                    0
                }
            },
            None => {
                err(
                    spanned.span().start,
                    format!("touch {:?}: missing `after` (e.g. after = \"3d\")", t.id.get_ref()),
                );
                0
            }
        };
        if let Some(c) = channel
            && !c.is_manual()
            && t.template.is_none()
        {
            err(
                t.channel.span().start,
                format!("touch {:?}: an {} touch needs a `template`", t.id.get_ref(), c.as_str()),
            );
        }
        touches.push(Touch {
            id: t.id.get_ref().clone(),
            after_days,
            channel: channel.unwrap_or(Channel::Call),
            template: t.template.as_ref().map(|s| s.get_ref().clone()),
            note: t.note.clone(),
            line: tline,
        });
    }
    if touches.is_empty() {
        diags.push(Diagnostic::error(file, 1, 1, "a plan needs at least one [[touch]]"));
        ok = false;
    }
    if !ok {
        return None;
    }
    Some(Plan {
        id: id.to_string(),
        name: raw.name.unwrap_or_else(|| id.to_string()),
        then: raw.then.map(|s| s.into_inner()),
        touches,
        file: file.to_string(),
    })
}

/// The line of the `then = ...` key in a plan file (1 if not found).
fn plan_then_line(file: &str) -> usize {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| t.lines().position(|l| l.trim_start().starts_with("then")))
        .map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_days("0d"), Ok(0));
        assert_eq!(parse_duration_days("2w"), Ok(14));
        assert!(parse_duration_days("3m").is_err());
        assert!(parse_duration_days("d").is_err());
    }

    #[test]
    fn bad_plan_reports_line_and_column() {
        let text = "name = \"x\"\n\n[[touch]]\nid = \"a\"\nafter = \"1d\"\nchannel = \"fax\"\n\n[[touch]]\nid = \"a\"\nafter = \"2q\"\nchannel = \"call\"\n";
        let mut d = Vec::new();
        assert!(parse_plan("x", "jobs/x.toml", text, &mut d).is_none());
        let shown: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert!(
            shown[0].starts_with("jobs/x.toml:6:11: error: channel: unknown channel \"fax\""),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("jobs/x.toml:9:6: error: touch id \"a\" is used twice")),
            "{shown:?}"
        );
        assert!(
            shown.iter().any(|s| s.starts_with("jobs/x.toml:10:9: error: after: bad duration")),
            "{shown:?}"
        );
    }

    #[test]
    fn unknown_key_is_an_error_with_position() {
        let mut d = Vec::new();
        assert!(parse_plan("x", "x.toml", "nme = \"x\"\n", &mut d).is_none());
        assert!(d[0].to_string().contains("x.toml:1:1"), "{}", d[0]);
        assert!(d[0].message.contains("nme"));
    }
}
