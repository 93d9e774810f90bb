//! Expansion (pure): which touches of a contact's plan are due on a run date, which were
//! missed, and which plan the contact moves to after its last touch.

use super::{Channel, Plan};
use crate::contacts::Contact;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The dates a run covers.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// The run date (touches due on or before it are sent).
    pub date: NaiveDate,
    /// Touches due up to this many days before `date` are still sent.
    pub grace_days: u32,
    /// The last run that finished; touches older than the grace window but after it count as missed.
    pub last_run: Option<NaiveDate>,
}

impl Window {
    /// First day still sent.
    pub fn start(&self) -> NaiveDate {
        self.date - Duration::days(self.grace_days as i64)
    }
}

/// One touch due for one contact on one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueTouch {
    /// Contact id.
    pub contact_id: String,
    /// Plan id.
    pub plan: String,
    /// Touch id.
    pub touch: String,
    /// Channel.
    pub channel: Channel,
    /// Template (email / SMS).
    pub template: Option<String>,
    /// Instruction (manual touches).
    pub note: Option<String>,
    /// The date the touch fell due (its occurrence).
    pub due: NaiveDate,
}

impl DueTouch {
    /// The once-only key: (contact, plan, touch, occurrence).
    pub fn key(&self) -> String {
        format!("{}|{}|{}|{}", self.contact_id, self.plan, self.touch, self.due)
    }
}

/// What expansion found for one contact.
#[derive(Debug, Default, PartialEq)]
pub struct Expansion {
    /// Touches due within the window.
    pub due: Vec<DueTouch>,
    /// Touches that fell due before the window (and after the last run): never sent.
    pub missed: u64,
    /// The plan and enrollment day the contact moves to, if it finished its plan.
    pub moved_to: Option<(String, NaiveDate)>,
}

/// Most plan changes followed in one run (guards against `then` cycles of very short plans).
const MAX_MOVES: usize = 16;

/// Expands one contact's plan (and the plans it moves on to) for `window`.
pub fn expand(contact: &Contact, plans: &BTreeMap<String, Plan>, window: &Window) -> Expansion {
    let mut out = Expansion::default();
    let (Some(mut plan_id), Some(mut enrolled)) = (contact.plan().map(str::to_string), contact.enrolled_on()) else {
        return out;
    };
    for _ in 0..MAX_MOVES {
        let Some(plan) = plans.get(&plan_id) else { break };
        if enrolled > window.date {
            break;
        }
        for touch in &plan.touches {
            let due = enrolled + Duration::days(touch.after_days);
            if due > window.date {
                continue;
            }
            if due >= window.start() {
                out.due.push(DueTouch {
                    contact_id: contact.id.0.clone(),
                    plan: plan.id.clone(),
                    touch: touch.id.clone(),
                    channel: touch.channel,
                    template: touch.template.clone(),
                    note: touch.note.clone(),
                    due,
                });
            } else if window.last_run.is_none_or(|l| due > l) {
                out.missed += 1;
            }
        }
        let last = enrolled + Duration::days(plan.length_days());
        match &plan.then {
            Some(next) if last <= window.date => {
                plan_id = next.clone();
                enrolled = last + Duration::days(1);
                out.moved_to = Some((plan_id.clone(), enrolled));
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::parse_plan;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn plans() -> BTreeMap<String, Plan> {
        let a = "then = \"b\"\n[[touch]]\nid = \"w\"\nafter = \"0d\"\nchannel = \"email\"\ntemplate = \"t\"\n[[touch]]\nid = \"c\"\nafter = \"1w\"\nchannel = \"call\"\n";
        let b = "[[touch]]\nid = \"x\"\nafter = \"0d\"\nchannel = \"sms\"\ntemplate = \"s\"\n[[touch]]\nid = \"y\"\nafter = \"30d\"\nchannel = \"email\"\ntemplate = \"t\"\n";
        let mut diags = Vec::new();
        let mut m = BTreeMap::new();
        m.insert("a".into(), parse_plan("a", "a.toml", a, &mut diags).unwrap());
        m.insert("b".into(), parse_plan("b", "b.toml", b, &mut diags).unwrap());
        assert!(diags.is_empty());
        m
    }

    fn contact(enrolled: &str) -> Contact {
        let mut fields = BTreeMap::new();
        fields.insert("plan".to_string(), "a".to_string());
        fields.insert("enrolled_on".to_string(), enrolled.to_string());
        Contact {
            id: crate::contacts::ContactId("c1".into()),
            fields,
            plan_history: vec![],
        }
    }

    fn window(date: &str, last: Option<&str>) -> Window {
        Window {
            date: d(date),
            grace_days: 3,
            last_run: last.map(d),
        }
    }

    #[test]
    fn due_on_the_day_and_within_grace() {
        let e = expand(&contact("2026-11-20"), &plans(), &window("2026-11-20", None));
        assert_eq!(e.due.len(), 1);
        assert_eq!(e.due[0].key(), "c1|a|w|2026-11-20");
        let e = expand(&contact("2026-11-17"), &plans(), &window("2026-11-20", None));
        assert_eq!(e.due.len(), 1, "3 days back is inside the grace window");
        assert_eq!(e.due[0].due, d("2026-11-17"));
    }

    #[test]
    fn old_enrollment_is_not_flooded() {
        let e = expand(&contact("2025-11-01"), &plans(), &window("2026-11-20", None));
        assert!(e.due.is_empty());
        assert_eq!(e.missed, 4, "w and c of plan a, then x and y of plan b");
        assert_eq!(e.moved_to, Some(("b".into(), d("2025-11-09"))));
    }

    #[test]
    fn moves_to_then_after_last_touch() {
        let e = expand(&contact("2026-11-13"), &plans(), &window("2026-11-20", Some("2026-11-19")));
        assert_eq!(e.due.iter().map(|t| t.touch.as_str()).collect::<Vec<_>>(), vec!["c"]);
        assert_eq!(e.moved_to, Some(("b".into(), d("2026-11-21"))));
        assert_eq!(e.missed, 0, "w fell due before the last run");
    }

    #[test]
    fn future_enrollment_has_nothing_due() {
        let e = expand(&contact("2026-12-01"), &plans(), &window("2026-11-20", None));
        assert_eq!(e, Expansion::default());
    }
}
