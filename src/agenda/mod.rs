//! The agent's day: manual touches (calls, letters, cards, gifts) and follow-ups of responses
//! as [`AgendaItem`]s — ordered overdue first, then responders, then plan order — in Markdown,
//! CSV, JSON, or an email to the agent, each with where its contact stands now (stage, last
//! touch). Items stay open, day after day, until marked done.

pub mod act;
pub mod email;
pub mod links;

use crate::contacts::Contact;
use crate::plans::expand::DueTouch;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// One thing to do for one contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgendaItem {
    /// Once-only key of the touch (`contact|plan|touch|date`).
    pub id: String,
    /// A short code to mark it done with (`nurture agenda done K7Q2XM`).
    #[serde(default)]
    pub short: String,
    /// The day it fell due.
    pub due: String,
    /// `call`, `letter`, `card` or `gift`.
    pub channel: String,
    /// Contact id.
    pub contact_id: String,
    /// Contact's name.
    pub name: String,
    /// Phone (E.164).
    pub phone: String,
    /// Email.
    pub email: String,
    /// Postal address on one line (the contact's `street` or `address`, `city`, `state`,
    /// `postal_code`, `country` columns).
    pub address: String,
    /// The postal address in its parts, for mail-merge labels of cards and letters.
    #[serde(default)]
    pub postal: Postal,
    /// Agent in charge.
    pub agent: String,
    /// The contact's pipeline stage (when the item was opened; now, when it is shown).
    #[serde(default)]
    pub stage: String,
    /// The contact's lead source.
    #[serde(default)]
    pub source: String,
    /// Plan id.
    pub plan: String,
    /// Touch id.
    pub touch: String,
    /// Position of the touch in its plan.
    #[serde(default)]
    pub order: usize,
    /// What to do.
    pub note: String,
    /// The contact responded during this plan (set when the agenda is shown).
    #[serde(default)]
    pub responder: bool,
    /// The contact's last touch, sent or done (`2026-12-01 sent w3-market-stats`; set when the
    /// agenda is shown).
    #[serde(default)]
    pub last_touch: String,
    /// When it was marked done (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<String>,
}

/// The full code of an item id: twelve characters of Crockford base32 (60 bits of its
/// SHA-256). What people type is a prefix of it — six characters, more only where two open
/// items would share six ([`assign_codes`]).
pub fn long_code(id: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let digest = Sha256::digest(id.as_bytes());
    let mut n = u64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
    (0..12)
        .map(|_| {
            let c = ALPHABET[(n % 32) as usize] as char;
            n /= 32;
            c
        })
        .collect()
}

/// A short, stable code for an item id: the first six characters of [`long_code`].
pub fn short_id(id: &str) -> String {
    long_code(id)[..6].to_string()
}

/// Gives every item the shortest code (at least six characters) that no other of `items`
/// shares, so no two open items ever answer to one code; a code keeps its six characters
/// unless a later item would collide with it.
pub fn assign_codes(items: &mut [AgendaItem]) {
    let mut codes: Vec<(String, usize)> = items.iter().enumerate().map(|(i, it)| (long_code(&it.id), i)).collect();
    codes.sort();
    let common = |a: &str, b: &str| a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    for k in 0..codes.len() {
        let mut len = 6;
        if k > 0 {
            len = len.max(common(&codes[k].0, &codes[k - 1].0) + 1);
        }
        if k + 1 < codes.len() {
            len = len.max(common(&codes[k].0, &codes[k + 1].0) + 1);
        }
        items[codes[k].1].short = codes[k].0[..len.min(12)].to_string();
    }
}

/// A postal address in the parts a label needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Postal {
    /// Street and number (the contact's `street`, else `address`).
    pub street: String,
    /// City.
    pub city: String,
    /// State, province or region.
    pub state: String,
    /// Postal (ZIP) code.
    pub postal_code: String,
    /// Country.
    pub country: String,
}

impl Postal {
    /// `street, city, state postal_code, country`, leaving out what is empty.
    pub fn one_line(&self) -> String {
        let state_zip = [self.state.as_str(), self.postal_code.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        [self.street.as_str(), self.city.as_str(), state_zip.as_str(), self.country.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl AgendaItem {
    /// An agenda row for a manual touch of `contact`.
    pub fn new(t: &DueTouch, contact: &Contact) -> AgendaItem {
        let get = |c: &str| contact.get(c).unwrap_or("").to_string();
        let postal = Postal {
            street: contact.get("street").or(contact.get("address")).unwrap_or("").to_string(),
            city: get("city"),
            state: get("state"),
            postal_code: get("postal_code"),
            country: get("country"),
        };
        let address = postal.one_line();
        let id = t.key();
        AgendaItem {
            short: short_id(&id),
            id,
            due: t.due.to_string(),
            channel: t.channel.as_str().into(),
            contact_id: t.contact_id.clone(),
            name: contact.display_name().unwrap_or_default(),
            phone: get("phone"),
            email: get("email"),
            address,
            postal,
            agent: get("agent"),
            stage: crate::contacts::pipeline::Pipeline::stage_of(contact).to_string(),
            source: get("source"),
            plan: t.plan.clone(),
            touch: t.touch.clone(),
            order: t.order,
            note: t.note.clone().unwrap_or_default(),
            responder: false,
            last_touch: String::new(),
            done_at: None,
        }
    }

    /// True for a call to a contact without a phone number (the agenda says so and offers the
    /// email).
    pub fn lacks_phone(&self) -> bool {
        self.channel == "call" && self.phone.is_empty()
    }

    /// True when the item was due before `date`.
    pub fn is_overdue(&self, date: NaiveDate) -> bool {
        self.due < date.to_string()
    }

    /// True when `code` names this item: its id, or at least six leading characters of its
    /// code (any case). Among open items with [`assign_codes`], the code shown names one only.
    pub fn is_named(&self, code: &str) -> bool {
        self.id == code || (code.len() >= 6 && long_code(&self.id).starts_with(&code.to_ascii_uppercase()))
    }
}

/// Who gets the agenda by email: `[agenda] email_to`, and every agent of `[agents]` at their
/// own address (agent name → address; `*` gets the items of no listed agent).
pub fn recipients(config: &crate::config::Config) -> std::collections::BTreeMap<String, String> {
    let mut to = config.agenda.email_to.clone();
    for (name, agent) in &config.agents {
        to.entry(name.clone()).or_insert_with(|| agent.email.clone());
    }
    to
}

/// The language of `agent`'s agenda email and pages: `[agents.NAME] locale`, else `[report]
/// locale`; `ar` or `en`.
pub fn lang_of<'c>(config: &'c crate::config::Config, agent: &str) -> &'c str {
    let own = config
        .agent_key(agent)
        .and_then(|k| config.agents.get(k))
        .map(|a| a.locale.to_ascii_lowercase())
        .filter(|l| !l.is_empty());
    let arabic = own.map_or(config.report.is_arabic(), |l| l.starts_with("ar"));
    if arabic { "ar" } else { "en" }
}

/// Where a contact stands when its items are shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// It responded during its current plan.
    pub responder: bool,
    /// Its pipeline stage.
    pub stage: String,
    /// Its last touch ([`touch_line`]), or empty.
    pub last_touch: String,
    /// Its agent now (a contact handed to another agent takes its open items along).
    pub agent: String,
}

/// A touch event as the agenda shows it: `2026-12-01 sent w3-market-stats`.
pub fn touch_line(e: &crate::history::Event) -> String {
    let day = e.at.get(..10).unwrap_or(&e.at);
    format!("{day} {} {}", e.event, e.touch.as_deref().unwrap_or_default())
}

/// Who an agenda was shown to, as `agenda done --all-shown` names them: the agent (any
/// case), or `(all)` for the agenda of every agent.
pub fn viewer(agent: Option<&str>) -> String {
    agent.map_or_else(|| "(all)".to_string(), str::to_lowercase)
}

/// The items due on or before `date`.
pub fn due(mut items: Vec<AgendaItem>, date: NaiveDate) -> Vec<AgendaItem> {
    let day = date.to_string();
    items.retain(|i| i.due <= day);
    items
}

/// Keeps the items of `agent` (any case; after [`rank`], whose agent is the contact's now).
pub fn of_agent(items: &mut Vec<AgendaItem>, agent: &str) {
    items.retain(|i| i.agent.eq_ignore_ascii_case(agent));
}

/// Gives each item its contact's standing — stage, last touch, agent as they are now (a contact
/// not in `standings` keeps what the item holds) — and puts them in priority order ([`sort`]).
pub fn rank(mut items: Vec<AgendaItem>, date: NaiveDate, standings: &HashMap<String, Standing>) -> Vec<AgendaItem> {
    for i in &mut items {
        if let Some(s) = standings.get(&i.contact_id) {
            i.responder = s.responder;
            i.stage.clone_from(&s.stage);
            i.last_touch.clone_from(&s.last_touch);
            i.agent.clone_from(&s.agent);
        }
    }
    sort(&mut items, date);
    items
}

/// Keeps at most `max` calls per agent — the first ones in priority order — and returns how
/// many were held back (0 = no limit). Held-back calls stay open and come back tomorrow, ahead
/// of newer ones (they are overdue then); cards, letters and gifts are never held back.
pub fn cap_calls(items: &mut Vec<AgendaItem>, max: usize) -> usize {
    if max == 0 {
        return 0;
    }
    let mut per_agent: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let before = items.len();
    items.retain(|i| {
        if i.channel != "call" {
            return true;
        }
        let n = per_agent.entry(i.agent.to_lowercase()).or_default();
        *n += 1;
        *n <= max
    });
    before - items.len()
}

/// Priority order: overdue first (oldest first), then responders, then plan order (plan, the
/// touch's place in it), then calls before cards, letters and gifts, then name.
pub fn sort(items: &mut [AgendaItem], date: NaiveDate) {
    let rank = |c: &str| ["call", "card", "letter", "gift"].iter().position(|x| *x == c).unwrap_or(9);
    items.sort_by_cached_key(|i| {
        let overdue = i.is_overdue(date);
        (
            !overdue,
            if overdue { i.due.clone() } else { String::new() },
            !i.responder,
            i.plan.clone(),
            i.order,
            rank(&i.channel),
            i.name.clone(),
        )
    });
}

/// A Markdown checklist.
pub fn to_markdown(date: NaiveDate, items: &[AgendaItem]) -> String {
    let mut out = format!("# Agenda for {date}\n\n");
    if items.is_empty() {
        out.push_str("Nothing to do.\n");
    }
    for i in items {
        let who = if i.name.is_empty() {
            i.contact_id.as_str()
        } else {
            i.name.as_str()
        };
        out.push_str(&format!("- [ ] `{}` **{}** {who}", i.short, i.channel));
        for (label, v) in [
            ("phone", &i.phone),
            ("email", &i.email),
            ("address", &i.address),
            ("stage", &i.stage),
            ("source", &i.source),
            ("last touch", &i.last_touch),
        ] {
            if !v.is_empty() {
                out.push_str(&format!(" · {label}: {v}"));
            }
        }
        out.push_str(&format!(" · {} / {}", i.plan, i.touch));
        if i.is_overdue(date) {
            out.push_str(&format!(" · **overdue** since {}", i.due));
        }
        if i.lacks_phone() {
            out.push_str(" · **no phone number**");
            if !i.email.is_empty() {
                out.push_str(&format!(": write to {} instead", i.email));
            }
        }
        if i.responder {
            out.push_str(" · responded");
        }
        if !i.note.is_empty() {
            out.push_str(&format!("\n  {}", i.note));
        }
        out.push('\n');
    }
    if !items.is_empty() {
        out.push_str("\nMark an item: `nurture agenda done|answered|no-answer|not-interested CODE`\n");
    }
    out
}

/// The header and one row per item, as text cells: what the CSV and the spreadsheet hold. The
/// postal address is in its parts too, so the rows feed mail-merge labels for cards.
pub fn to_rows(items: &[AgendaItem]) -> Vec<Vec<String>> {
    let header = [
        "short",
        "id",
        "due",
        "channel",
        "contact_id",
        "name",
        "phone",
        "email",
        "address",
        "street",
        "city",
        "state",
        "postal_code",
        "country",
        "agent",
        "stage",
        "source",
        "last_touch",
        "plan",
        "touch",
        "note",
        "responder",
    ];
    let mut rows = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    for i in items {
        let p = &i.postal;
        rows.push(
            [
                i.short.as_str(),
                &i.id,
                &i.due,
                &i.channel,
                &i.contact_id,
                &i.name,
                &i.phone,
                &i.email,
                &i.address,
                &p.street,
                &p.city,
                &p.state,
                &p.postal_code,
                &p.country,
                &i.agent,
                &i.stage,
                &i.source,
                &i.last_touch,
                &i.plan,
                &i.touch,
                &i.note,
                if i.responder { "yes" } else { "" },
            ]
            .iter()
            .map(|c| c.to_string())
            .collect(),
        );
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_capped_per_agent_in_priority_order_and_nothing_else_is() {
        let mut items: Vec<AgendaItem> = (0..5)
            .map(|n| {
                let mut i = item(&format!("c{n}"), "2026-12-01", "call", "8x8", n, &format!("p{n}"));
                i.agent = if n < 3 { "Sara".into() } else { "omar".into() };
                i
            })
            .collect();
        items.push(item("card", "2026-12-01", "card", "8x8", 9, "q"));
        assert_eq!(cap_calls(&mut items.clone(), 0), 0);
        assert_eq!(cap_calls(&mut items, 2), 1);
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["c0", "c1", "c3", "c4", "card"]);
    }

    #[test]
    fn a_postal_address_on_one_line_leaves_out_what_is_empty() {
        let p = Postal {
            street: "12 Oak St".into(),
            city: "Springfield".into(),
            state: "IL".into(),
            postal_code: "62701".into(),
            country: String::new(),
        };
        assert_eq!(p.one_line(), "12 Oak St, Springfield, IL 62701");
        assert_eq!(Postal::default().one_line(), "");
    }

    fn item(id: &str, due: &str, channel: &str, plan: &str, order: usize, contact: &str) -> AgendaItem {
        AgendaItem {
            id: id.into(),
            short: short_id(id),
            due: due.into(),
            channel: channel.into(),
            contact_id: contact.into(),
            name: contact.into(),
            phone: String::new(),
            email: String::new(),
            address: String::new(),
            postal: Postal::default(),
            agent: "Sara".into(),
            stage: String::new(),
            source: String::new(),
            plan: plan.into(),
            touch: id.into(),
            order,
            note: String::new(),
            responder: false,
            last_touch: String::new(),
            done_at: None,
        }
    }

    #[test]
    fn overdue_then_responders_then_plan_order() {
        let date: NaiveDate = "2026-11-20".parse().unwrap();
        let items = vec![
            item("late-gift", "2026-11-20", "gift", "8x8", 8, "a"),
            item("early-call", "2026-11-20", "call", "8x8", 2, "b"),
            item("overdue-card", "2026-11-18", "card", "8x8", 9, "c"),
            item("responder", "2026-11-20", "card", "33-touch", 5, "d"),
            item("tomorrow", "2026-11-21", "call", "8x8", 1, "e"),
        ];
        let d = Standing {
            responder: true,
            stage: "contacted".into(),
            last_touch: "2026-11-19 sent w2-email".into(),
            agent: "Omar".into(),
        };
        let standings: HashMap<String, Standing> = [("d".to_string(), d.clone())].into();
        let mut shown = rank(due(items, date), date, &standings);
        let ids: Vec<&str> = shown.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, vec!["overdue-card", "responder", "early-call", "late-gift"]);
        assert_eq!(
            (shown[1].stage.as_str(), shown[1].last_touch.as_str()),
            ("contacted", d.last_touch.as_str())
        );
        // The contact went to Omar since its item opened: the item is Omar's now.
        of_agent(&mut shown, "omar");
        let ids: Vec<&str> = shown.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, vec!["responder"]);
        of_agent(&mut shown, "nobody");
        assert!(shown.is_empty());
    }

    #[test]
    fn short_codes_are_stable_and_name_their_item() {
        let a = short_id("c1|8x8|w4-call|2026-11-20");
        assert_eq!(a.len(), 6);
        assert_eq!(a, short_id("c1|8x8|w4-call|2026-11-20"));
        assert_ne!(a, short_id("c1|8x8|w4-call|2026-11-21"));
        let i = item("c1|8x8|w4-call|2026-11-20", "2026-11-20", "call", "8x8", 1, "c1");
        assert!(i.is_named(&a.to_lowercase()) && i.is_named("c1|8x8|w4-call|2026-11-20") && !i.is_named("XXXXXX"));
    }

    #[test]
    fn codes_of_a_hundred_thousand_open_items_never_collide() {
        let mut items: Vec<AgendaItem> = (0..100_000)
            .map(|n| {
                item(
                    &format!("c{n}@example.com|33-touch|call-{}|2026-11-20", n % 33),
                    "2026-11-20",
                    "call",
                    "33-touch",
                    1,
                    "c",
                )
            })
            .collect();
        assign_codes(&mut items);
        let codes: std::collections::HashSet<&str> = items.iter().map(|i| i.short.as_str()).collect();
        assert_eq!(codes.len(), items.len(), "every code is distinct");
        let longer = items.iter().filter(|i| i.short.len() > 6).count();
        assert!(
            longer > 0 && longer < 100,
            "six characters except where two would collide: {longer}"
        );
        // Only colliding codes grow, and each shown code names its own item and no other.
        let mut six: std::collections::HashMap<&str, usize> = Default::default();
        for i in &items {
            *six.entry(&i.short[..6]).or_default() += 1;
        }
        let grown: Vec<&AgendaItem> = items.iter().filter(|i| i.short.len() > 6).collect();
        assert!(grown.iter().all(|i| six[&i.short[..6]] > 1));
        for i in grown.iter().copied().chain(items.iter().step_by(20_011)) {
            assert_eq!(items.iter().filter(|j| j.is_named(&i.short)).count(), 1, "{}", i.short);
        }
    }

    #[test]
    fn formats() {
        let date: NaiveDate = "2026-11-20".parse().unwrap();
        let mut late = item("x", "2026-11-18", "call", "8x8", 1, "c1");
        late.note = "Ask about referrals".into();
        late.last_touch = touch_line(&crate::history::Event::touch("2026-11-17T18:00:00Z", "sent", "8x8", "w2", "email"));
        assert_eq!(late.last_touch, "2026-11-17 sent w2");
        let md = to_markdown(date, std::slice::from_ref(&late));
        assert!(
            md.contains("**overdue** since 2026-11-18")
                && md.contains("Ask about referrals")
                && md.contains("last touch: 2026-11-17 sent w2"),
            "{md}"
        );
        let rows = to_rows(&[late.clone()]);
        assert_eq!(rows[0][..4], ["short", "id", "due", "channel"]);
        assert_eq!(to_rows(&[]).len(), 1, "the header even when empty");
        let to = email::Addressee {
            agent: "Sara",
            lang: "en",
            base_url: "https://n.example.com",
            secret: "k",
        };
        let (subject, _, html) = email::to_email(date, &to, &[late], 14);
        assert_eq!(subject, "Your agenda for 2026-11-20: 1 call(s), 0 card(s), 0 letter(s), 0 gift(s)");
        assert!(html.contains("overdue since 2026-11-18"), "{html}");
    }
}
