//! A lead arriving through `POST /leads` or the public form: checked field by field like an
//! imported row, then upserted through the import's intake ([`crate::intake`]) — forgotten
//! people refused, one person one contact, a compare-and-set write — with the `[assign]` rules
//! for a new contact. A known person's lead from a keyed source fills only empty fields (never
//! an address, a phone or a consent) and counts as their response; from the anonymous form it
//! changes nothing and leaves a line in their history. Sequencing only.

use crate::config::Config;
use crate::contacts::import::{ImportOptions, normalize_row};
use crate::events::{self, ContactEvent, Kind};
use crate::intake::{Intake, Rules};
use crate::store::{Store, StoreError};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// One lead, as posted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lead {
    /// The lead source (default: the source of the key or form).
    #[serde(default)]
    pub source: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// What they wrote (kept in the history).
    #[serde(default)]
    pub message: Option<String>,
    /// The agent (a key of `[agents]`; default: the `[assign]` rules).
    #[serde(default)]
    pub agent: Option<String>,
    /// The plan (default: the `[assign]` rule's).
    #[serde(default)]
    pub plan: Option<String>,
    /// The contact's language (`ar`, `en-US`, ...).
    #[serde(default)]
    pub locale: Option<String>,
    /// Custom fields, kept as columns.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// What became of a lead.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Taken {
    /// Stored: a new contact (`created`), or a known one filled where empty.
    Stored {
        /// The contact id (`null` for a person who asked to be forgotten: nothing is stored).
        contact: Option<String>,
        /// True when a new contact was made.
        created: bool,
        /// Its agent.
        agent: Option<String>,
        /// Its plan.
        plan: Option<String>,
        /// Its pipeline stage.
        stage: Option<String>,
    },
    /// Not valid: each field with what is wrong.
    Invalid {
        /// Field → problem.
        errors: BTreeMap<String, String>,
    },
}

impl Taken {
    /// Nothing stored, and nothing said about the person.
    pub const NOTHING: Taken = Taken::Stored {
        contact: None,
        created: false,
        agent: None,
        plan: None,
        stage: None,
    };
}

/// Who sent a lead: a source with its own key (`POST /leads`), or anyone (the public form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// Authenticated by the source's key: a known person's lead is their response.
    Trusted,
    /// The anonymous form: anyone can type anyone's email, so a known person is left as is.
    Anonymous,
}

/// Takes one lead of `source` on `today`.
pub async fn take(
    store: &Store,
    config: &Config,
    plans: &HashSet<String>,
    (source, sender): (&str, Sender),
    lead: &Lead,
    today: NaiveDate,
) -> Result<Taken, StoreError> {
    let mut errors = BTreeMap::new();
    if lead.source.as_deref().is_some_and(|s| s != source) {
        errors.insert("source".into(), format!("this key posts leads of {source:?} only"));
    }
    // Any case names the agent (`Omar` is `[agents.omar]`); stored as the key.
    let agent = lead.agent.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let agent_key = agent.and_then(|a| config.agent_key(a));
    if let (Some(agent), None) = (agent, agent_key) {
        errors.insert("agent".into(), format!("no agent {agent:?} (the keys of [agents])"));
    }
    let mut raw: Vec<(&str, &str)> = vec![("source", source)];
    for (name, value) in [
        ("first_name", &lead.first_name),
        ("last_name", &lead.last_name),
        ("email", &lead.email),
        ("phone", &lead.phone),
        ("plan", &lead.plan),
        ("locale", &lead.locale),
    ] {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            raw.push((name, v));
        }
    }
    if let Some(key) = agent_key {
        raw.push(("agent", key));
    }
    for (name, value) in &lead.fields {
        if crate::contacts::KNOWN_COLUMNS.contains(&name.as_str()) || name.is_empty() {
            errors.insert(format!("fields.{name}"), "a custom field may not use this name".into());
        } else {
            raw.push((name, value));
        }
    }
    let opts = ImportOptions {
        plan: None,
        source: None,
        enrolled_on: today,
        default_region: config.contacts.default_region.clone(),
        plans: plans.clone(),
        read: Default::default(),
        map: Vec::new(),
        stages: config.pipeline.stages.clone(),
        consent_given: format!("{today} lead {source}"),
        day_order: crate::contacts::dates::DayOrder::parse(&config.contacts.date_format).unwrap_or_default(),
        column_orders: Default::default(),
    };
    // A lead is answered field by field: a bad cell is an error here, not left out.
    let normalized = normalize_row(&raw, &opts).and_then(|(c, left_out)| if left_out.is_empty() { Ok(c) } else { Err(left_out) });
    let contact = match normalized {
        Ok(c) if errors.is_empty() => c,
        Ok(_) => return Ok(Taken::Invalid { errors }),
        Err(problems) => {
            errors.extend(problems.into_iter().map(|(f, p)| {
                let f = if f == "email" && lead.email.is_none() && lead.phone.is_none() {
                    "email or phone".into()
                } else {
                    f
                };
                (f, p)
            }));
            return Ok(Taken::Invalid { errors });
        }
    };
    let note = lead.message.clone().unwrap_or_default();
    if sender == Sender::Anonymous
        && let Some(known) = known_person(store, &contact, &config.contacts.default_region).await?
    {
        // Not their response, and nothing of theirs changes: only a line for the agent.
        let detail = format!("{source}: {note}");
        let event = crate::history::Event::new(today.to_string(), "lead_unverified", detail.trim_end_matches(": "));
        store.push_history(&[(known.id.0.clone(), event)]).await?;
        return Ok(Taken::NOTHING);
    }
    let label = format!("lead from {source}");
    let rules = Rules {
        assign: Some(&config.assign),
        fill_only: true,
    };
    let mut intake = Intake::new(store, config.pepper(), &label, today, false)
        .with_rules(rules)
        .with_origin(label.clone());
    intake.upsert(vec![(1, contact.clone())]).await?;
    intake.finish().await?;
    if intake.report.rejected_rows > 0 {
        // A person who asked to be forgotten (or an address that is another contact's): the
        // answer says nothing about them, and nothing is stored.
        return Ok(Taken::NOTHING);
    }
    let created = intake.report.created > 0;
    let address = contact.email().or(contact.phone()).unwrap_or(&contact.id.0);
    let Some(stored) = store.lookup(address, &config.contacts.default_region).await? else {
        return Ok(Taken::NOTHING);
    };
    let stored = if created {
        let event = crate::history::Event::new(today.to_string(), "lead", format!("{source}: {note}").trim_end_matches(": "));
        store.push_history(&[(stored.id.0.clone(), event)]).await?;
        stored
    } else {
        // A known person writing again: a response, in the history, and it moves `new` on.
        let response = ContactEvent {
            kind: Kind::Response,
            contact: stored.id.0.clone(),
            channel: Some(format!("lead ({source})")),
            note: (!note.is_empty()).then_some(note),
            date: Some(today),
        };
        let pipeline = crate::contacts::pipeline::Pipeline::new(&config.pipeline.stages);
        match events::record(store, &response, today, &config.contacts.default_region, &pipeline).await {
            Ok(c) => c,
            Err(events::EventError::Store(e)) => return Err(e),
            Err(_) => stored,
        }
    };
    Ok(Taken::Stored {
        contact: Some(stored.id.0.clone()),
        created,
        agent: stored.get("agent").map(str::to_string),
        plan: stored.plan().map(str::to_string),
        stage: Some(crate::contacts::pipeline::Pipeline::stage_of(&stored).to_string()),
    })
}

/// The stored contact a lead's email, else its phone, belongs to.
async fn known_person(
    store: &Store,
    lead: &crate::contacts::Contact,
    region: &str,
) -> Result<Option<crate::contacts::Contact>, StoreError> {
    for address in [lead.email(), lead.phone()].into_iter().flatten() {
        if let Some(c) = store.lookup(address, region).await? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}
