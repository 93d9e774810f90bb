//! Expansion (pure): which touches of a contact's plan are due on a run date, which were
//! missed, which are paused by a response, and which plans the contact moves through
//! (`then` after a pass through a plan, `[demote]` for non-responders).
//!
//! A touch's *occurrence* is the day it falls due; the delivery key names it, so a yearly
//! touch is sent every year and never twice in one. Days of rules that are the same for every
//! contact (holidays, cron) are computed once a run in a [`Calendar`].

use super::{Channel, Plan, When};
use crate::contacts::Contact;
use crate::report::customers::Class;
use chrono::{Duration, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

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

/// How far back occurrences are looked at (missed counts and the demote count of plans that
/// never end): three years.
const LOOKBACK_DAYS: i64 = 3 * 365;

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
    /// The contact's local time it goes out at, if the plan says.
    #[serde(default)]
    pub at: Option<NaiveTime>,
    /// The touch's position in its plan (agenda order).
    #[serde(default)]
    pub order: usize,
}

impl DueTouch {
    /// The once-only key: (contact, plan, touch, occurrence).
    pub fn key(&self) -> String {
        format!("{}|{}|{}|{}", self.contact_id, self.plan, self.touch, self.due)
    }
}

/// Why a contact changed plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveReason {
    /// It went through the plan (`then`).
    Finished,
    /// This many touches fell due without a response (`[demote]`).
    NoResponse(u32),
    /// Not in the plan's `[segment]` (what it admits).
    OutOfSegment(String),
}

impl std::fmt::Display for MoveReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MoveReason::Finished => f.write_str("finished the plan"),
            MoveReason::NoResponse(n) => write!(f, "no response after {n} touches"),
            MoveReason::OutOfSegment(admits) => write!(f, "not in the plan's segment ({admits})"),
        }
    }
}

/// A change of plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    /// The plan left.
    pub from: String,
    /// The plan entered.
    pub to: String,
    /// The day the contact enters `to`.
    pub on: NaiveDate,
    /// Why.
    pub reason: MoveReason,
}

/// What expansion found for one contact.
#[derive(Debug, Default, PartialEq)]
pub struct Expansion {
    /// Touches due within the window.
    pub due: Vec<DueTouch>,
    /// Automated touches within the window not sent because the contact responded
    /// (`pause_on_response`).
    pub paused: Vec<DueTouch>,
    /// Touches that fell due before the window (and after the last run): never sent.
    pub missed: u64,
    /// Plan changes, in order; the last one is where the contact is now.
    pub moves: Vec<Move>,
    /// The agent's follow-up of a response that paused a plan (once per response).
    pub follow_up: Option<DueTouch>,
    /// The contact is outside its plan's `[segment]`, which has no `otherwise`: no touches.
    pub out_of_segment: bool,
}

impl Expansion {
    /// The plan and enrollment day the contact ends on, if it moved.
    pub fn moved_to(&self) -> Option<(String, NaiveDate)> {
        self.moves.last().map(|m| (m.to.clone(), m.on))
    }
}

/// A day, and the time of day a cron rule fires on it.
type Dated = (NaiveDate, Option<NaiveTime>);

/// What is the same for every contact of a run, computed once: the days of the touches whose
/// rule is shared (fixed dates, weekdays, Hijri dates, cron; plan → touch index → sorted days),
/// and the customers' classes that plans' `[segment]`s look at.
#[derive(Debug, Default)]
pub struct Calendar {
    from: NaiveDate,
    days: BTreeMap<String, Vec<Option<Vec<Dated>>>>,
    classes: HashMap<String, Class>,
}

impl Calendar {
    /// The shared days of every plan's touches from three years before `window.date` to it.
    pub fn new(plans: &BTreeMap<String, Plan>, window: &Window) -> Calendar {
        let from = (window.date - Duration::days(LOOKBACK_DAYS)).min(window.start());
        let to = window.date;
        let days = plans
            .iter()
            .map(|(id, plan)| {
                let per_touch = plan
                    .touches
                    .iter()
                    .map(|t| match &t.when {
                        When::On(rule) if rule.is_shared() => Some(rule.days(from, to, |_| None).into_iter().map(|d| (d, None)).collect()),
                        When::Cron(schedule) => Some(
                            super::schedule::cron_days(schedule, from, to)
                                .into_iter()
                                .map(|(d, time)| (d, (time != NaiveTime::MIN).then_some(time)))
                                .collect(),
                        ),
                        _ => None,
                    })
                    .collect();
                (id.clone(), per_touch)
            })
            .collect();
        Calendar {
            from,
            days,
            classes: HashMap::new(),
        }
    }

    /// With the customers' classes (`report customers`) for plans with a `[segment]`.
    pub fn with_classes(mut self, classes: HashMap<String, Class>) -> Calendar {
        self.classes = classes;
        self
    }

    fn shared(&self, plan: &str, touch: usize) -> Option<&[Dated]> {
        self.days.get(plan)?.get(touch)?.as_deref()
    }
}

/// Most plan changes followed in one run (guards against `then` cycles of very short plans).
const MAX_MOVES: usize = 16;

/// One occurrence of a touch: day, touch index, time of day from a cron rule.
type Occurrence = (NaiveDate, usize, Option<NaiveTime>);

/// The occurrences of `plan`'s touches for `contact` in `[from, to]`, in day and plan order.
fn occurrences(plan: &Plan, contact: &Contact, enrolled: NaiveDate, from: NaiveDate, to: NaiveDate, cal: &Calendar) -> Vec<Occurrence> {
    let lang = contact.language();
    let mut out: Vec<Occurrence> = Vec::with_capacity(plan.touches.len() * 2);
    for (i, touch) in plan.touches.iter().enumerate().filter(|(_, t)| t.is_for(&lang)) {
        match &touch.when {
            When::After(n) => {
                let day = enrolled + Duration::days(*n);
                if day >= from && day <= to {
                    out.push((day, i, None));
                }
            }
            When::On(rule) if !rule.is_shared() => {
                out.extend(rule.days(from, to, |c| contact.get(c)).into_iter().map(|d| (d, i, None)));
            }
            _ => {
                let days = cal.shared(&plan.id, i).unwrap_or_default();
                let start = days.partition_point(|(d, _)| *d < from);
                let end = days.partition_point(|(d, _)| *d <= to);
                out.extend(days[start..end].iter().map(|(d, time)| (*d, i, *time)));
            }
        }
    }
    out.sort_unstable_by_key(|(d, i, _)| (*d, *i));
    out
}

/// Expands one contact's plan (and the plans it moves on to) for `window`.
pub fn expand(contact: &Contact, plans: &BTreeMap<String, Plan>, window: &Window, cal: &Calendar) -> Expansion {
    let mut out = Expansion::default();
    let (Some(mut plan_id), Some(mut enrolled)) = (contact.plan().map(str::to_string), contact.enrolled_on()) else {
        return out;
    };
    let start = window.start();
    for _ in 0..MAX_MOVES {
        let Some(plan) = plans.get(&plan_id) else { break };
        if enrolled > window.date {
            break;
        }
        let class = cal.classes.get(&contact.id.0);
        if let Some(segment) = &plan.segment
            && !segment.admits(class)
        {
            // To `otherwise` from today — only when that plan takes the contact, so that two
            // plans that both refuse it never pass it back and forth night after night.
            let takes = |to: &String| plans.get(to).is_some_and(|p| p.segment.as_ref().is_none_or(|s| s.admits(class)));
            match &segment.otherwise {
                Some(to) if *to != plan_id && takes(to) => {
                    let on = window.date.max(enrolled);
                    out.moves.push(Move {
                        from: plan_id.clone(),
                        to: to.clone(),
                        on,
                        reason: MoveReason::OutOfSegment(segment.describe()),
                    });
                    (plan_id, enrolled) = (to.clone(), on);
                    continue;
                }
                _ => {
                    out.out_of_segment = true;
                    break;
                }
            }
        }
        let last = plan.last_day(enrolled);
        let upto = last.map_or(window.date, |l| l.min(window.date));
        // A response during this pass through the plan.
        let response = contact.responded_on.filter(|r| *r >= enrolled);
        let mut unanswered = 0u32;
        let mut demoted = None;
        for (day, i, cron_time) in occurrences(plan, contact, enrolled, enrolled.max(cal.from), upto, cal) {
            let touch = &plan.touches[i];
            let after_response = response.is_some_and(|r| day > r);
            // Built only for touches in the window: most occurrences are only counted.
            let due = || DueTouch {
                contact_id: contact.id.0.clone(),
                plan: plan.id.clone(),
                touch: touch.id.clone(),
                channel: touch.channel,
                template: touch.template.clone(),
                note: touch.note.clone(),
                due: day,
                at: touch.at.or(cron_time),
                order: i,
            };
            if plan.pause_on_response && after_response && !touch.channel.is_manual() {
                if day >= start {
                    out.paused.push(due());
                }
                continue;
            }
            if day >= start {
                out.due.push(due());
            } else if window.last_run.is_none_or(|l| day > l) {
                out.missed += 1;
            }
            if response.is_none() || after_response {
                unanswered += 1;
            }
            if let Some(d) = &plan.demote
                && unanswered >= d.after
            {
                demoted = Some((d.to.clone(), day, d.after));
                break;
            }
        }
        if let (true, Some(r)) = (plan.pause_on_response, response) {
            out.follow_up = Some(DueTouch {
                contact_id: contact.id.0.clone(),
                plan: plan.id.clone(),
                touch: "follow-up".into(),
                channel: Channel::Call,
                template: None,
                note: Some(format!(
                    "Responded on {r}: the automated touches of \"{}\" are paused — follow up personally.",
                    plan.name
                )),
                due: r,
                at: None,
                order: 0,
            });
        }
        let next = match (demoted, &plan.then, last) {
            (Some((to, day, n)), _, _) => (to, day + Duration::days(1), MoveReason::NoResponse(n)),
            (None, Some(then), Some(last)) if last <= window.date => (then.clone(), last + Duration::days(1), MoveReason::Finished),
            _ => break,
        };
        out.moves.push(Move {
            from: plan_id.clone(),
            to: next.0.clone(),
            on: next.1,
            reason: next.2,
        });
        (plan_id, enrolled) = (next.0, next.1);
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

    fn plans_from(files: &[(&str, &str)]) -> BTreeMap<String, Plan> {
        let mut diags = Vec::new();
        let mut m = BTreeMap::new();
        for (id, text) in files {
            m.insert(id.to_string(), parse_plan(id, &format!("{id}.toml"), text, &mut diags).unwrap());
        }
        assert!(diags.is_empty(), "{diags:?}");
        m
    }

    fn plans() -> BTreeMap<String, Plan> {
        let a = "then = \"b\"\n[[touch]]\nid = \"w\"\nafter = \"0d\"\nchannel = \"email\"\ntemplate = \"t\"\n[[touch]]\nid = \"c\"\nafter = \"1w\"\nchannel = \"call\"\n";
        let b = "[[touch]]\nid = \"x\"\nafter = \"0d\"\nchannel = \"sms\"\ntemplate = \"s\"\n[[touch]]\nid = \"y\"\nafter = \"30d\"\nchannel = \"email\"\ntemplate = \"t\"\n";
        plans_from(&[("a", a), ("b", b)])
    }

    fn contact_on(plan: &str, enrolled: &str, fields: &[(&str, &str)]) -> Contact {
        let mut all: BTreeMap<String, String> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        all.insert("plan".to_string(), plan.to_string());
        all.insert("enrolled_on".to_string(), enrolled.to_string());
        Contact {
            id: crate::contacts::ContactId("c1".into()),
            fields: all,
            plan_history: vec![],
            responded_on: None,
            former: vec![],
        }
    }

    #[test]
    fn a_plan_with_a_segment_routes_the_others_to_otherwise_or_gives_them_nothing() {
        let top = "[segment]\nabc = [\"A\", \"B\"]\notherwise = \"b\"\n[[touch]]\nid = \"t\"\nafter = \"0d\"\nchannel = \"email\"\ntemplate = \"t\"\n";
        let b =
            "[segment]\nabc = [\"C\"]\notherwise = \"top\"\n[[touch]]\nid = \"x\"\nafter = \"0d\"\nchannel = \"sms\"\ntemplate = \"s\"\n";
        let champions = "[segment]\nrfm_segment = [\"Champions\"]\n[[touch]]\nid = \"g\"\nafter = \"0d\"\nchannel = \"gift\"\n";
        let plans = plans_from(&[("top", top), ("b", b), ("champions", champions)]);
        let w = window("2026-03-01", None);
        let class = |abc: char, segment: &'static str| Class { abc, segment };
        let run = |plan: &str, classes: &[(&str, Class)]| {
            let cal = Calendar::new(&plans, &w).with_classes(classes.iter().map(|(k, c)| (k.to_string(), *c)).collect());
            expand(&contact_on(plan, "2026-03-01", &[]), &plans, &w, &cal)
        };
        // An A customer: top's touch.
        let e = run("top", &[("c1", class('A', "Champions"))]);
        assert_eq!((e.due.len(), e.moves.len()), (1, 0));
        // A C customer moves to b from the run date, with the reason, and gets b's touch.
        let e = run("top", &[("c1", class('C', "Hibernating"))]);
        assert_eq!(e.moved_to(), Some(("b".to_string(), d("2026-03-01"))));
        assert_eq!(e.moves[0].reason.to_string(), "not in the plan's segment (abc A, B)");
        assert_eq!(e.due[0].touch, "x");
        // No deal at all: neither top nor b takes it — it stays on top, without touches.
        let e = run("top", &[]);
        assert_eq!((e.moves.len(), e.due.len(), e.out_of_segment), (0, 0, true), "{e:?}");
        // No `otherwise`: nothing, and the contact stays.
        let e = run("champions", &[("c1", class('A', "Loyal"))]);
        assert_eq!((e.moves.len(), e.due.len(), e.out_of_segment), (0, 0, true));
        assert_eq!(run("champions", &[("c1", class('B', "Champions"))]).due.len(), 1);
    }

    fn contact(enrolled: &str) -> Contact {
        contact_on("a", enrolled, &[])
    }

    fn window(date: &str, last: Option<&str>) -> Window {
        Window {
            date: d(date),
            grace_days: 3,
            last_run: last.map(d),
        }
    }

    fn run(c: &Contact, plans: &BTreeMap<String, Plan>, w: &Window) -> Expansion {
        expand(c, plans, w, &Calendar::new(plans, w))
    }

    fn keys(e: &Expansion) -> Vec<String> {
        e.due.iter().map(DueTouch::key).collect()
    }

    #[test]
    fn due_on_the_day_and_within_grace() {
        let e = run(&contact("2026-11-20"), &plans(), &window("2026-11-20", None));
        assert_eq!(keys(&e), vec!["c1|a|w|2026-11-20"]);
        let e = run(&contact("2026-11-17"), &plans(), &window("2026-11-20", None));
        assert_eq!(e.due.len(), 1, "3 days back is inside the grace window");
        assert_eq!(e.due[0].due, d("2026-11-17"));
    }

    #[test]
    fn old_enrollment_is_not_flooded() {
        let e = run(&contact("2025-11-01"), &plans(), &window("2026-11-20", None));
        assert!(e.due.is_empty());
        assert_eq!(e.missed, 4, "w and c of plan a, then x and y of plan b");
        assert_eq!(e.moved_to(), Some(("b".into(), d("2025-11-09"))));
    }

    #[test]
    fn moves_to_then_after_last_touch() {
        let e = run(&contact("2026-11-13"), &plans(), &window("2026-11-20", Some("2026-11-19")));
        assert_eq!(e.due.iter().map(|t| t.touch.as_str()).collect::<Vec<_>>(), vec!["c"]);
        assert_eq!(
            e.moves,
            vec![Move {
                from: "a".into(),
                to: "b".into(),
                on: d("2026-11-21"),
                reason: MoveReason::Finished
            }]
        );
        assert_eq!(e.missed, 0, "w fell due before the last run");
    }

    #[test]
    fn future_enrollment_has_nothing_due() {
        let e = run(&contact("2026-12-01"), &plans(), &window("2026-11-20", None));
        assert_eq!(e, Expansion::default());
    }

    const YEARLY: &str = "name = \"y\"\nlength = \"1y\"\nthen = \"y\"\n\
[[touch]]\nid = \"bday\"\non = \"birthday\"\nat = \"09:00\"\nchannel = \"email\"\ntemplate = \"t\"\n\
[[touch]]\nid = \"thanksgiving\"\non = \"4th thu of nov\"\nlocale = \"en\"\nchannel = \"card\"\n\
[[touch]]\nid = \"eid\"\non = \"hijri 10-01\"\nlocale = \"ar\"\nchannel = \"sms\"\ntemplate = \"s\"\n\
[[touch]]\nid = \"news\"\ncron = \"0 30 8 1 * *\"\nchannel = \"email\"\ntemplate = \"n\"\n";

    #[test]
    fn calendar_touches_repeat_every_year_once() {
        let p = plans_from(&[("y", YEARLY)]);
        let c = contact_on("y", "2025-01-10", &[("birthday", "02-29")]);
        let e = run(&c, &p, &window("2026-03-01", None));
        // 2026 is a common year: the 29 February birthday is on the 28th, inside the grace window.
        assert!(keys(&e).contains(&"c1|y|bday|2026-02-28".to_string()), "{:?}", keys(&e));
        assert_eq!(
            e.due.iter().find(|t| t.touch == "bday").unwrap().at,
            NaiveTime::from_hms_opt(9, 0, 0)
        );
        assert!(keys(&e).contains(&"c1|y|news|2026-03-01".to_string()));
        assert_eq!(
            e.due.iter().find(|t| t.touch == "news").unwrap().at,
            NaiveTime::from_hms_opt(8, 30, 0),
            "cron time of day"
        );
        // The yearly plan moved into its second pass on 2026-01-10: one move, no repeat of 2025's days.
        assert_eq!(e.moved_to(), Some(("y".into(), d("2026-01-10"))));
        let next_year = run(&c, &p, &window("2027-02-28", None));
        assert!(
            keys(&next_year).contains(&"c1|y|bday|2027-02-28".to_string()),
            "{:?}",
            keys(&next_year)
        );
    }

    #[test]
    fn holidays_follow_the_contact_language() {
        let p = plans_from(&[("y", YEARLY)]);
        let en = contact_on("y", "2026-01-01", &[]);
        let e = run(&en, &p, &window("2026-11-26", None));
        assert_eq!(keys(&e), vec!["c1|y|thanksgiving|2026-11-26"]);
        let ar = contact_on("y", "2026-01-01", &[("locale", "ar-SA")]);
        assert!(
            run(&ar, &p, &window("2026-11-26", None)).due.is_empty(),
            "no Thanksgiving for Arabic contacts"
        );
        let e = run(&ar, &p, &window("2026-03-20", None));
        assert_eq!(keys(&e), vec!["c1|y|eid|2026-03-20"], "Eid al-Fitr 1447");
    }

    const LEADS: &str = "name = \"leads\"\nthen = \"known\"\npause_on_response = true\n[demote]\nafter = 3\nto = \"cheap\"\n\
[[touch]]\nid = \"e1\"\nafter = \"0d\"\nchannel = \"email\"\ntemplate = \"t\"\n\
[[touch]]\nid = \"e2\"\nafter = \"7d\"\nchannel = \"email\"\ntemplate = \"t\"\n\
[[touch]]\nid = \"call\"\nafter = \"14d\"\nchannel = \"call\"\n\
[[touch]]\nid = \"e3\"\nafter = \"21d\"\nchannel = \"email\"\ntemplate = \"t\"\n";
    const ONE: &str = "[[touch]]\nid = \"x\"\nafter = \"0d\"\nchannel = \"email\"\ntemplate = \"t\"\n";

    fn lifecycle() -> BTreeMap<String, Plan> {
        plans_from(&[("leads", LEADS), ("known", ONE), ("cheap", ONE)])
    }

    #[test]
    fn non_responders_are_demoted_after_n_touches() {
        let c = contact_on("leads", "2026-11-01", &[]);
        let e = run(&c, &lifecycle(), &window("2026-11-15", Some("2026-11-14")));
        assert_eq!(keys(&e), vec!["c1|leads|call|2026-11-15"], "the third touch is still done");
        assert_eq!(
            e.moves,
            vec![Move {
                from: "leads".into(),
                to: "cheap".into(),
                on: d("2026-11-16"),
                reason: MoveReason::NoResponse(3)
            }]
        );
    }

    #[test]
    fn a_response_pauses_automated_touches_and_asks_for_a_follow_up() {
        let mut c = contact_on("leads", "2026-11-01", &[]);
        c.respond(d("2026-11-03"));
        let e = run(&c, &lifecycle(), &window("2026-11-08", None));
        assert!(e.due.is_empty(), "{:?}", keys(&e));
        assert_eq!(
            e.paused.iter().map(DueTouch::key).collect::<Vec<_>>(),
            vec!["c1|leads|e2|2026-11-08"]
        );
        let f = e.follow_up.expect("a follow-up");
        assert_eq!((f.key().as_str(), f.channel), ("c1|leads|follow-up|2026-11-03", Channel::Call));
        // Manual touches go on; no demotion for a responder; then it finishes into `known`.
        let e = run(&c, &lifecycle(), &window("2026-11-22", Some("2026-11-21")));
        assert!(keys(&e).is_empty());
        let e = run(&c, &lifecycle(), &window("2026-11-15", Some("2026-11-14")));
        assert_eq!(keys(&e), vec!["c1|leads|call|2026-11-15"]);
        let e = run(&c, &lifecycle(), &window("2026-11-23", Some("2026-11-22")));
        assert_eq!(e.moved_to(), Some(("known".into(), d("2026-11-23"))));
        assert_eq!(keys(&e), vec!["c1|known|x|2026-11-23"]);
    }

    #[test]
    fn a_response_before_the_plan_does_not_count() {
        let mut c = contact_on("leads", "2026-11-01", &[]);
        c.respond(d("2026-10-01"));
        let e = run(&c, &lifecycle(), &window("2026-11-15", Some("2026-11-14")));
        assert_eq!(
            e.moved_to(),
            Some(("cheap".into(), d("2026-11-16"))),
            "still a non-responder in this plan"
        );
    }

    #[test]
    fn plan_edits_added_touches_are_not_sent_retroactively_and_renames_are_new_touches() {
        let c = contact_on("b", "2026-10-01", &[]);
        let before = plans_from(&[("b", ONE)]);
        assert!(run(&c, &before, &window("2026-11-20", Some("2026-11-19"))).due.is_empty());
        // A touch added at 10d (long past) and one at 50d (today): only today's is due.
        let edited = format!(
            "{ONE}[[touch]]\nid = \"past\"\nafter = \"10d\"\nchannel = \"email\"\ntemplate = \"t\"\n[[touch]]\nid = \"today\"\nafter = \"50d\"\nchannel = \"email\"\ntemplate = \"t\"\n"
        );
        let p = plans_from(&[("b", &edited)]);
        assert_eq!(
            keys(&run(&c, &p, &window("2026-11-20", Some("2026-11-19")))),
            vec!["c1|b|today|2026-11-20"]
        );
        // Renamed: a new key, so it is a new touch.
        let renamed = plans_from(&[("b", &edited.replace("id = \"today\"", "id = \"today-v2\""))]);
        assert_eq!(
            keys(&run(&c, &renamed, &window("2026-11-20", Some("2026-11-19")))),
            vec!["c1|b|today-v2|2026-11-20"]
        );
    }
}
