//! A contact's history: every plan change with its reason, every touch sent, skipped,
//! paused, suppressed or refused, every response and deal, every opt-out — one JSON
//! [`Event`] each, newest first, in a capped Redis list per contact (`nurture contact show`).

use serde::{Deserialize, Serialize};

/// Events kept per contact (the oldest are dropped).
pub const KEEP: isize = 1_000;

/// One thing that happened to a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When: RFC 3339, or a date for things that happen on a day (plan changes).
    pub at: String,
    /// What: `enrolled`, `moved`, `sent`, `failed`, `suppressed`, `refused`, `skipped`,
    /// `paused`, `cancelled`, `agenda`, `done`, `response`, `deal`, `unsubscribed`, `sms_stop`,
    /// `sms_start`.
    pub event: String,
    /// The plan concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// The touch concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch: Option<String>,
    /// Why, or what (a reason, a channel, a note, a deal value).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl Event {
    /// An event without a plan.
    pub fn new(at: impl Into<String>, event: &str, detail: impl Into<String>) -> Event {
        Event {
            at: at.into(),
            event: event.into(),
            plan: None,
            touch: None,
            detail: detail.into(),
        }
    }

    /// An event about one touch of a plan.
    pub fn touch(at: impl Into<String>, event: &str, plan: &str, touch: &str, detail: impl Into<String>) -> Event {
        Event {
            at: at.into(),
            event: event.into(),
            plan: Some(plan.into()),
            touch: Some(touch.into()),
            detail: detail.into(),
        }
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// One line for people: `2026-11-20T18:00:01Z  sent      8x8 / w1-welcome`.
    pub fn line(&self) -> String {
        let what = match (&self.plan, &self.touch) {
            (Some(p), Some(t)) => format!("{p} / {t}"),
            (Some(p), None) => p.clone(),
            _ => String::new(),
        };
        let mut line = format!("{:<25} {:<12} {what}", self.at, self.event);
        if !self.detail.is_empty() {
            if !what.is_empty() {
                line.push_str(" — ");
            }
            line.push_str(&self.detail);
        }
        line.trim_end().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_well_and_json_round_trips() {
        let e = Event::touch("2026-11-20", "moved", "8x8", "w8-referral-call", "no response after 8 touches");
        assert_eq!(
            e.line(),
            "2026-11-20                moved        8x8 / w8-referral-call — no response after 8 touches"
        );
        let back: Event = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            Event::new("2026-11-20", "response", "sms").line(),
            "2026-11-20                response     sms"
        );
    }
}
