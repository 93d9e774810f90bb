//! Where the contacts stand at the end of a period, from each contact and its history: how
//! many are in each pipeline stage, the moves made within the period (with the reasons of
//! `lost`), and the non-responders — contacts sent at least `[report] non_responder_touches`
//! touches with no response by then, per plan, with the cheaper plan they were moved to (the
//! seeds' "analyse, don't delete"). One pass over the contacts, their histories read a page at
//! a time.

use crate::contacts::Contact;
use crate::contacts::pipeline::Pipeline;
use crate::history::Event;
use crate::store::{Store, StoreError};
use chrono::NaiveDate;
use futures::TryStreamExt;
use serde::Serialize;
use std::collections::BTreeMap;

/// The pipeline and the non-responders at the end of a period.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Standing {
    /// Contacts per stage at the period's end, in `[pipeline] stages` order (then others).
    pub stages: Vec<(String, u64)>,
    /// Moves into each stage within the period.
    pub moves: Vec<(String, u64)>,
    /// Why contacts were moved to `lost` within the period, most frequent first.
    pub lost_reasons: Vec<(String, u64)>,
    /// The touches that make a non-responder.
    pub touches: u32,
    /// Non-responders per plan.
    pub non_responders: Vec<NonResponders>,
}

/// The non-responders of one plan.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NonResponders {
    /// The plan they were sent their touches in.
    pub plan: String,
    /// How many.
    pub contacts: u64,
    /// The plans they were moved to for not responding (plan → contacts); the rest stayed.
    pub moved_to: BTreeMap<String, u64>,
}

impl Standing {
    /// One row per stage: (stage, contacts at the period's end, moves into it within the period)
    /// — the stages holding contacts first, in pipeline order, then those only passed through.
    pub fn rows(&self) -> Vec<(&str, u64, u64)> {
        let count = |list: &[(String, u64)], k: &str| list.iter().find(|(s, _)| s == k).map_or(0, |(_, n)| *n);
        let passed = self.moves.iter().filter(|(k, _)| !self.stages.iter().any(|(s, _)| s == k));
        self.stages
            .iter()
            .chain(passed)
            .map(|(k, _)| (k.as_str(), count(&self.stages, k), count(&self.moves, k)))
            .collect()
    }
}

impl NonResponders {
    /// Where they were moved: `12-direct 3, 33-touch 1` (empty: nobody was).
    pub fn moved_to_text(&self) -> String {
        let to: Vec<String> = self
            .moved_to
            .iter()
            .map(|(p, n)| format!("{p} {}", super::format::count(*n)))
            .collect();
        to.join(", ")
    }

    /// How many stayed in their plan.
    pub fn stayed(&self) -> u64 {
        self.contacts - self.moved_to.values().sum::<u64>()
    }
}

/// What one contact adds.
#[derive(Debug, Default)]
struct Seen {
    stage: Option<String>,
    moves: Vec<(String, String)>,
    non_responder: Option<(String, Option<String>)>,
}

/// The day of an event (`at` is a date or RFC 3339).
fn day_of(e: &Event) -> Option<NaiveDate> {
    e.at.get(..10)?.parse().ok()
}

/// `new → contacted: response` → (`new`, `contacted`, `response`).
fn stage_move(detail: &str) -> Option<(&str, &str, &str)> {
    let (from, rest) = detail.split_once(" → ")?;
    let (to, why) = rest.split_once(": ").unwrap_or((rest, ""));
    Some((from.trim(), to.trim(), why.trim()))
}

/// What `contact` (with its `history`, oldest first) adds to the standing of `from..=to`.
fn look(contact: &Contact, history: &[Event], from: NaiveDate, to: NaiveDate, touches: u32) -> Seen {
    let mut seen = Seen::default();
    let arrived = history
        .iter()
        .find(|e| e.event == "created")
        .and_then(day_of)
        .or(contact.enrolled_on());
    if arrived.is_some_and(|d| d > to) {
        return seen;
    }
    let dated = |e: &&Event| day_of(e).is_some_and(|d| d <= to);
    // The stage then: where the first move after the period started from, else the stage now.
    let later = history
        .iter()
        .filter(|e| e.event == "stage" && day_of(e).is_some_and(|d| d > to))
        .find_map(|e| stage_move(&e.detail));
    seen.stage = Some(later.map_or(Pipeline::stage_of(contact), |(from, _, _)| from).to_string());
    for e in history
        .iter()
        .filter(|e| e.event == "stage" && day_of(e).is_some_and(|d| d >= from && d <= to))
    {
        if let Some((_, stage, why)) = stage_move(&e.detail) {
            seen.moves.push((stage.to_string(), why.to_string()));
        }
    }
    let sent: Vec<&Event> = history.iter().filter(|e| e.event == "sent").filter(dated).collect();
    let answered =
        history.iter().filter(dated).any(|e| e.event == "response" || e.event == "deal") || contact.responded_on.is_some_and(|d| d <= to);
    if touches > 0 && sent.len() >= touches as usize && !answered {
        let demoted = history
            .iter()
            .filter(dated)
            .filter(|e| e.event == "moved" && e.detail.contains("no response"))
            .find_map(|e| Some((e.detail.strip_prefix("from ")?.split(':').next()?.to_string(), e.plan.clone()?)));
        seen.non_responder = Some(match demoted {
            Some((plan, to_plan)) => (plan, Some(to_plan)),
            None => (sent.last().and_then(|e| e.plan.clone()).unwrap_or_default(), None),
        });
    }
    seen
}

/// The standing of every contact at the end of `from..=to`, stages ordered as `stages`.
pub async fn read(store: &Store, stages: &[String], from: NaiveDate, to: NaiveDate, touches: u32) -> Result<Standing, StoreError> {
    let mut at_end: BTreeMap<String, u64> = BTreeMap::new();
    let mut moves: BTreeMap<String, u64> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut quiet: BTreeMap<String, NonResponders> = BTreeMap::new();
    let mut pages = std::pin::pin!(store.contact_pages(2000));
    while let Some(page) = pages.try_next().await? {
        let ids: Vec<&str> = page.iter().map(|c| c.id.0.as_str()).collect();
        for (contact, history) in page.iter().zip(store.histories(&ids).await?) {
            let seen = look(contact, &history, from, to, touches);
            if let Some(stage) = seen.stage {
                *at_end.entry(stage).or_default() += 1;
            }
            for (stage, why) in seen.moves {
                if stage == "lost" {
                    *reasons.entry(if why.is_empty() { "—".into() } else { why }).or_default() += 1;
                }
                *moves.entry(stage).or_default() += 1;
            }
            if let Some((plan, moved_to)) = seen.non_responder {
                let row = quiet.entry(plan.clone()).or_insert_with(|| NonResponders {
                    plan,
                    ..Default::default()
                });
                row.contacts += 1;
                if let Some(p) = moved_to {
                    *row.moved_to.entry(p).or_default() += 1;
                }
            }
        }
    }
    let ordered = |counts: BTreeMap<String, u64>| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = counts.into_iter().collect();
        v.sort_by_key(|(s, _)| stages.iter().position(|x| x == s).unwrap_or(usize::MAX));
        v
    };
    let mut lost_reasons: Vec<(String, u64)> = reasons.into_iter().collect();
    lost_reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Standing {
        stages: ordered(at_end),
        moves: ordered(moves),
        lost_reasons,
        touches,
        non_responders: quiet.into_values().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: &str) -> NaiveDate {
        d.parse().unwrap()
    }

    fn event(at: &str, name: &str, plan: Option<&str>, detail: &str) -> Event {
        let mut e = Event::new(at, name, detail);
        e.plan = plan.map(str::to_string);
        e
    }

    fn contact(status: &str) -> Contact {
        serde_json::from_value(serde_json::json!({"id": "c-1", "fields": {"status": status}})).unwrap()
    }

    #[test]
    fn the_stage_at_the_end_of_a_period_is_where_the_next_move_started() {
        let history = vec![
            event("2026-11-01", "created", Some("8x8"), ""),
            event("2026-11-05", "stage", None, "new → contacted: response"),
            event("2026-12-03", "stage", None, "contacted → lost: not interested"),
        ];
        let s = look(&contact("lost"), &history, day("2026-11-01"), day("2026-11-30"), 4);
        assert_eq!(s.stage.as_deref(), Some("contacted"), "lost only in December");
        assert_eq!(s.moves, [("contacted".to_string(), "response".to_string())]);
        let s = look(&contact("lost"), &history, day("2026-12-01"), day("2026-12-31"), 4);
        assert_eq!(s.stage.as_deref(), Some("lost"));
        assert_eq!(s.moves, [("lost".to_string(), "not interested".to_string())]);
        let before = look(&contact("lost"), &history, day("2026-10-01"), day("2026-10-31"), 4);
        assert_eq!(before.stage, None, "not a contact yet");
    }

    #[test]
    fn non_responders_are_counted_in_the_plan_they_were_sent_and_where_they_went() {
        let sent = |d: &str| event(d, "sent", Some("8x8"), "email");
        let mut history = vec![sent("2026-11-01"), sent("2026-11-08"), sent("2026-11-15")];
        let s = look(&contact("new"), &history, day("2026-11-01"), day("2026-11-30"), 3);
        assert_eq!(s.non_responder, Some(("8x8".to_string(), None)));
        history.push(event(
            "2026-11-20",
            "moved",
            Some("12-direct"),
            "from 8x8: no response after 3 touches",
        ));
        let s = look(&contact("new"), &history, day("2026-11-01"), day("2026-11-30"), 3);
        assert_eq!(s.non_responder, Some(("8x8".to_string(), Some("12-direct".to_string()))));
        assert_eq!(
            look(&contact("new"), &history, day("2026-11-01"), day("2026-11-30"), 4).non_responder,
            None
        );
        history.push(event("2026-11-25", "response", Some("12-direct"), "call"));
        assert_eq!(
            look(&contact("new"), &history, day("2026-11-01"), day("2026-11-30"), 3).non_responder,
            None
        );
        assert!(
            look(&contact("new"), &history, day("2026-11-01"), day("2026-11-24"), 3)
                .non_responder
                .is_some(),
            "not yet answered then"
        );
    }
}
