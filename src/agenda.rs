//! The agenda: manual touches (calls, letters, cards, gifts) as rows for a person, in
//! Markdown, CSV or JSON.

use crate::contacts::Contact;
use crate::plans::expand::DueTouch;
use serde::{Deserialize, Serialize};

/// One thing to do for one contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgendaItem {
    /// Once-only key of the touch.
    pub id: String,
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
    /// Postal address (the contact's `address` column).
    pub address: String,
    /// Agent in charge.
    pub agent: String,
    /// Plan id.
    pub plan: String,
    /// Touch id.
    pub touch: String,
    /// What to do.
    pub note: String,
}

impl AgendaItem {
    /// An agenda row for a manual touch of `contact`.
    pub fn new(t: &DueTouch, contact: &Contact) -> AgendaItem {
        let get = |c: &str| contact.get(c).unwrap_or("").to_string();
        let name = contact.display_name().unwrap_or_default();
        let address = ["address", "city", "postal_code", "country"]
            .iter()
            .filter_map(|c| contact.get(c))
            .collect::<Vec<_>>()
            .join(", ");
        AgendaItem {
            id: t.key(),
            due: t.due.to_string(),
            channel: t.channel.as_str().into(),
            contact_id: t.contact_id.clone(),
            name,
            phone: get("phone"),
            email: get("email"),
            address,
            agent: get("agent"),
            plan: t.plan.clone(),
            touch: t.touch.clone(),
            note: t.note.clone().unwrap_or_default(),
        }
    }
}

/// Sorts items: oldest due first, then by channel (calls first), then by name.
pub fn sort(items: &mut [AgendaItem]) {
    let rank = |c: &str| ["call", "card", "letter", "gift"].iter().position(|x| *x == c).unwrap_or(9);
    items.sort_by(|a, b| (a.due.as_str(), rank(&a.channel), a.name.as_str()).cmp(&(b.due.as_str(), rank(&b.channel), b.name.as_str())));
}

/// A Markdown checklist.
pub fn to_markdown(date: &str, items: &[AgendaItem]) -> String {
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
        out.push_str(&format!("- [ ] **{}** {who}", i.channel));
        for (label, v) in [("phone", &i.phone), ("email", &i.email), ("address", &i.address)] {
            if !v.is_empty() {
                out.push_str(&format!(" · {label}: {v}"));
            }
        }
        out.push_str(&format!(" · {} / {}", i.plan, i.touch));
        if i.due != date {
            out.push_str(&format!(" · due {}", i.due));
        }
        if !i.note.is_empty() {
            out.push_str(&format!("\n  {}", i.note));
        }
        out.push('\n');
    }
    out
}

/// CSV with a header row.
pub fn to_csv(items: &[AgendaItem]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for i in items {
        w.serialize(i)?;
    }
    if items.is_empty() {
        w.write_record([
            "id",
            "due",
            "channel",
            "contact_id",
            "name",
            "phone",
            "email",
            "address",
            "agent",
            "plan",
            "touch",
            "note",
        ])?;
    }
    Ok(String::from_utf8_lossy(&w.into_inner().map_err(|e| e.into_error())?).into_owned())
}
