//! Plans: one `jobs/*.toml` file each ([`Plan`], [`Touch`], [`Channel`]), loaded with
//! `file:line:col` diagnostics. Expansion into due touches is in [`expand`].

pub mod expand;
pub mod schedule;

pub use schedule::{When, Yearly, parse_duration_days};

use crate::diagnostic::{Diagnostic, line_col};
use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use toml::Spanned;

/// How a touch reaches the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// When it falls due.
    pub when: When,
    /// Local time of the contact it goes out at (default: when the run works the queue).
    pub at: Option<NaiveTime>,
    /// Only for contacts of this language (`ar`, `en`; a contact without a locale is `en`).
    pub locale: Option<String>,
    /// Channel.
    pub channel: Channel,
    /// Template name (email and SMS), e.g. `8x8/welcome`.
    pub template: Option<String>,
    /// Instruction for manual touches.
    pub note: Option<String>,
    /// Line of the touch in its plan file (for diagnostics).
    pub line: usize,
}

impl Touch {
    /// True when the touch is for a contact of language `lang`.
    pub fn is_for(&self, lang: &str) -> bool {
        self.locale.as_deref().is_none_or(|l| l == lang)
    }

    /// Days after enrollment, for `after` touches.
    pub fn after_days(&self) -> Option<i64> {
        match self.when {
            When::After(d) => Some(d),
            _ => None,
        }
    }
}

/// `[demote]`: where a contact goes who has not responded after some touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Demote {
    /// Touches due without a response (since entering the plan, its latest cycle, or the last response).
    pub after: u32,
    /// The plan the contact moves to.
    pub to: String,
}

/// `[segment]`: the customers a plan is for, by the classes of `report customers`, and where
/// the others go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// ABC classes admitted (`A`, `B`, `C`; `none` = no deal yet); empty = any.
    pub abc: Vec<String>,
    /// RFM segments admitted (`Champions`, ...; `none` = no deal yet); empty = any.
    pub rfm_segment: Vec<String>,
    /// The plan a contact outside the segment moves to; without it, such a contact gets none
    /// of this plan's touches (and stays on it, in case its class changes).
    pub otherwise: Option<String>,
}

/// What `[segment]` lists for a contact without deals.
pub const NO_CLASS: &str = "none";

impl Segment {
    /// True when a contact of `class` (`None`: no deal yet) belongs to the segment.
    pub fn admits(&self, class: Option<&crate::report::customers::Class>) -> bool {
        // Once per contact of a segmented plan every night: no allocation.
        let mut letter = [0u8; 4];
        let abc: &str = class.map_or(NO_CLASS, |c| c.abc.encode_utf8(&mut letter));
        let rfm = class.map_or(NO_CLASS, |c| c.segment);
        (self.abc.is_empty() || self.abc.iter().any(|a| a == abc))
            && (self.rfm_segment.is_empty() || self.rfm_segment.iter().any(|s| s == rfm))
    }

    /// `abc A, B; rfm_segment Champions`.
    pub fn describe(&self) -> String {
        let parts = [("abc", &self.abc), ("rfm_segment", &self.rfm_segment)];
        let listed: Vec<String> = parts
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k} {}", v.join(", ")))
            .collect();
        listed.join("; ")
    }
}

/// `[promise]`: what the plan's name promises, checked by `lint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promise {
    /// Touches promised.
    pub touches: u32,
    /// Counted over a year (`per = "year"`), else within this many days of entering the plan.
    pub within_days: Option<i64>,
    /// At least (`at_least = true`), else exactly.
    pub at_least: bool,
    /// Line of `[promise]` in the plan file.
    pub line: usize,
}

/// An action plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// File stem.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Plan the contact moves to after its last touch (or after `length`).
    pub then: Option<String>,
    /// Days one pass through the plan lasts (`length = "1y"`); default: up to the last `after` touch.
    pub length: Option<i64>,
    /// A response stops the plan's remaining automated touches (the agent follows up instead).
    pub pause_on_response: bool,
    /// Non-responders move to another plan.
    pub demote: Option<Demote>,
    /// Checked by `lint`.
    pub promise: Option<Promise>,
    /// The customers it is for.
    pub segment: Option<Segment>,
    /// Steps, in file order.
    pub touches: Vec<Touch>,
    /// The file it came from.
    pub file: String,
}

impl Plan {
    /// The last day of one pass through the plan for a contact who entered it on `enrolled`;
    /// `None` when the plan never ends (calendar touches and no `length`).
    pub fn last_day(&self, enrolled: NaiveDate) -> Option<NaiveDate> {
        let days = match self.length {
            Some(len) => len.max(1) - 1,
            None if self.touches.iter().all(|t| matches!(t.when, When::After(_))) => {
                self.touches.iter().filter_map(|t| t.after_days()).max().unwrap_or(0)
            }
            None => return None,
        };
        enrolled.checked_add_days(chrono::Days::new(days as u64))
    }

    /// The touch with this id.
    pub fn touch(&self, id: &str) -> Option<&Touch> {
        self.touches.iter().find(|t| t.id == id)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    name: Option<String>,
    then: Option<Spanned<String>>,
    length: Option<Spanned<String>>,
    pause_on_response: Option<bool>,
    demote: Option<Spanned<RawDemote>>,
    promise: Option<Spanned<RawPromise>>,
    segment: Option<Spanned<RawSegment>>,
    #[serde(default)]
    touch: Vec<Spanned<RawTouch>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegment {
    #[serde(default)]
    abc: Vec<Spanned<String>>,
    #[serde(default)]
    rfm_segment: Vec<Spanned<String>>,
    otherwise: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDemote {
    after: Spanned<i64>,
    to: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPromise {
    touches: u32,
    per: Option<Spanned<String>>,
    within: Option<Spanned<String>>,
    #[serde(default)]
    at_least: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTouch {
    id: Spanned<String>,
    after: Option<Spanned<String>>,
    on: Option<Spanned<String>>,
    cron: Option<Spanned<String>>,
    at: Option<Spanned<String>>,
    locale: Option<Spanned<String>>,
    channel: Spanned<String>,
    template: Option<Spanned<String>>,
    note: Option<String>,
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
        let targets = [
            ("then", plan.then.as_ref()),
            ("to", plan.demote.as_ref().map(|d| &d.to)),
            ("otherwise", plan.segment.as_ref().and_then(|s| s.otherwise.as_ref())),
        ];
        for (key, target) in targets {
            if let Some(target) = target
                && !ids.contains(target)
            {
                let (line, col) = key_position(&plan.file, key);
                let mut d = Diagnostic::error(&plan.file, line, col, format!("{key}: no plan {target:?} in {}", dir.display()));
                if let Some(close) = ids.iter().find(|i| strsim::jaro_winkler(i, target) >= 0.8) {
                    d = d.with_help(format!("did you mean \"{close}\"?"));
                }
                diags.push(d);
            }
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
    let mut ok = true;
    let mut err = |offset: usize, msg: String| {
        let (l, c) = at(offset);
        diags.push(Diagnostic::error(file, l, c, msg));
        ok = false;
    };
    let mut seen = HashSet::new();
    let mut touches = Vec::new();
    for spanned in &raw.touch {
        let (tline, _) = at(spanned.span().start);
        let t = spanned.get_ref();
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
        let when = match touch_when(t, spanned.span().start) {
            Ok(w) => w,
            Err((offset, m)) => {
                err(offset, m);
                When::After(0)
            }
        };
        let send_at = match &t.at {
            Some(a) => match schedule::parse_at(a.get_ref()) {
                Ok(time) => Some(time),
                Err(m) => {
                    err(a.span().start, m);
                    None
                }
            },
            None => None,
        };
        if let Some(l) = &t.locale
            && !(l.get_ref().len() == 2 && l.get_ref().chars().all(|c| c.is_ascii_lowercase()))
        {
            err(
                l.span().start,
                format!("locale: {:?}: a two-letter language code, such as \"ar\" or \"en\"", l.get_ref()),
            );
        }
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
            when,
            at: send_at,
            locale: t.locale.as_ref().map(|l| l.get_ref().clone()),
            channel: channel.unwrap_or(Channel::Call),
            template: t.template.as_ref().map(|s| s.get_ref().clone()),
            note: t.note.clone(),
            line: tline,
        });
    }
    if touches.is_empty() {
        err(0, "a plan needs at least one [[touch]]".to_string());
    }
    let length = match &raw.length {
        Some(l) => match parse_duration_days(l.get_ref()) {
            Ok(d) if d > 0 => Some(d),
            Ok(_) => {
                err(l.span().start, "length: must be at least one day".into());
                None
            }
            Err(m) => {
                err(l.span().start, format!("length: {m}"));
                None
            }
        },
        None => None,
    };
    let calendar = touches.iter().any(|t| !matches!(t.when, When::After(_)));
    if let (Some(then), None, true) = (&raw.then, length, calendar) {
        err(
            then.span().start,
            "then: a plan with `on`/`cron` touches has no last touch; give it a `length` (e.g. length = \"1y\")".into(),
        );
    }
    let demote = raw.demote.as_ref().map(|d| {
        let r = d.get_ref();
        if *r.after.get_ref() < 1 {
            err(r.after.span().start, "demote: after must be at least 1 touch".into());
        }
        Demote {
            after: (*r.after.get_ref()).max(1) as u32,
            to: r.to.get_ref().clone(),
        }
    });
    let promise = match &raw.promise {
        Some(p) => {
            let r = p.get_ref();
            let within_days = match (&r.per, &r.within) {
                (Some(per), None) if per.get_ref() == "year" => None,
                (Some(per), None) => {
                    err(per.span().start, format!("promise: per = {:?}: only \"year\"", per.get_ref()));
                    None
                }
                (None, Some(w)) => match parse_duration_days(w.get_ref()) {
                    Ok(d) => Some(d),
                    Err(m) => {
                        err(w.span().start, format!("promise: within: {m}"));
                        None
                    }
                },
                _ => {
                    err(p.span().start, "promise: give `per = \"year\"` or `within = \"8w\"`".into());
                    None
                }
            };
            Some(Promise {
                touches: r.touches,
                within_days,
                at_least: r.at_least,
                line: at(p.span().start).0,
            })
        }
        None => None,
    };
    let segment = raw.segment.as_ref().map(|seg| {
        let r = seg.get_ref();
        let mut check = |key: &str, values: &[Spanned<String>], known: &[&str]| -> Vec<String> {
            for v in values {
                if !known.contains(&v.get_ref().as_str()) {
                    let close = known
                        .iter()
                        .find(|k| strsim::jaro_winkler(&k.to_lowercase(), &v.get_ref().to_lowercase()) >= 0.8);
                    let hint = close.map(|c| format!(" (did you mean {c:?}?)")).unwrap_or_default();
                    err(
                        v.span().start,
                        format!("segment: {key} {:?} is not one of {}{hint}", v.get_ref(), known.join(", ")),
                    );
                }
            }
            values.iter().map(|v| v.get_ref().clone()).collect()
        };
        let abc = check("abc", &r.abc, &["A", "B", "C", NO_CLASS]);
        let segments: Vec<&str> = crate::report::customers::SEGMENTS.iter().copied().chain([NO_CLASS]).collect();
        let rfm_segment = check("rfm_segment", &r.rfm_segment, &segments);
        if abc.is_empty() && rfm_segment.is_empty() {
            err(
                seg.span().start,
                "segment: list `abc` or `rfm_segment` values (e.g. abc = [\"A\", \"B\"])".into(),
            );
        }
        Segment {
            abc,
            rfm_segment,
            otherwise: r.otherwise.as_ref().map(|o| o.get_ref().clone()),
        }
    });
    if !ok {
        return None;
    }
    Some(Plan {
        id: id.to_string(),
        name: raw.name.unwrap_or_else(|| id.to_string()),
        then: raw.then.map(|s| s.into_inner()),
        length,
        pause_on_response: raw.pause_on_response.unwrap_or(false),
        demote,
        promise,
        segment,
        touches,
        file: file.to_string(),
    })
}

/// The one `after`, `on` or `cron` of a touch, parsed; else the offset and message of the error.
fn touch_when(t: &RawTouch, touch_start: usize) -> Result<When, (usize, String)> {
    let rules: Vec<(&str, &Spanned<String>)> = [("after", &t.after), ("on", &t.on), ("cron", &t.cron)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
    match rules.as_slice() {
        [("after", v)] => parse_duration_days(v.get_ref())
            .map(When::After)
            .map_err(|m| (v.span().start, format!("after: {m}"))),
        [("on", v)] => schedule::parse_on(v.get_ref()).map(When::On).map_err(|m| (v.span().start, m)),
        [(_, v)] => schedule::parse_cron(v.get_ref())
            .map(|c| When::Cron(Box::new(c)))
            .map_err(|m| (v.span().start, m)),
        [] => Err((
            touch_start,
            format!(
                "touch {:?}: when is it due? add `after = \"3d\"`, `on = \"birthday\"` or `cron = \"0 0 9 1 * *\"`",
                t.id.get_ref()
            ),
        )),
        [(first, _), (second, v), ..] => Err((
            v.span().start,
            format!(
                "touch {:?}: `{first}` and `{second}` together; give one of after, on, cron",
                t.id.get_ref()
            ),
        )),
    }
}

/// The line and column of the first `key = ...` in a plan file ((1, 1) if not found).
fn key_position(file: &str, key: &str) -> (usize, usize) {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| {
            t.lines().enumerate().find_map(|(i, l)| {
                let trimmed = l.trim_start();
                let rest = trimmed.strip_prefix(key)?;
                rest.trim_start().starts_with('=').then(|| (i + 1, l.len() - trimmed.len() + 1))
            })
        })
        .unwrap_or((1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

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
