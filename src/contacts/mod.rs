//! Contacts: the [`Contact`] record, its normalized identifiers ([`ContactId`], [`Email`], [`E164`]),
//! and how an imported row merges into a stored one. Parsing files lives in [`import`].

pub mod cells;
pub mod census;
pub mod dates;
pub mod headers;
pub mod identity;
pub mod import;
pub mod phone;
pub mod pipeline;
pub mod read;
#[cfg(test)]
mod real_exports;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

pub use phone::E164;

/// Columns nurture understands; every other column is kept as a custom field.
pub const KNOWN_COLUMNS: &[&str] = &[
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "timezone",
    "plan",
    "enrolled_on",
    "birthday",
    "anniversary",
    "home_purchase",
    "source",
    "agent",
    "status",
    "locale",
];

/// The columns of a postal address (`address` kept as written, or its parts).
pub const ADDRESS_PARTS: &[&str] = &["address", "street", "city", "state", "postal_code", "country"];

/// What a lead never adds to a known contact — a way to reach them or a consent: whoever posts
/// a lead with someone's email could otherwise give them a phone, an address or a consent to
/// marketing texts.
pub fn never_from_a_lead(field: &str) -> bool {
    matches!(field, "email" | "phone" | "sms_consent" | "sms_consent_pending") || ADDRESS_PARTS.contains(&field)
}

/// A contact's stable id (the `id` column, else the normalized email, else the phone).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContactId(pub String);

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated, trimmed, lower-cased email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Validates and normalizes an address (trimmed, lower-cased).
    pub fn parse(raw: &str) -> Result<Email, String> {
        let s = raw.trim().to_lowercase();
        if s.parse::<lettre::Address>().is_err() || !email_address::EmailAddress::is_valid(&s) {
            return Err(format!("not an email address: {raw:?}"));
        }
        Ok(Email(s))
    }
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Normalizes an address given by a person: `("email", address)` when it contains `@`,
/// else `("sms", E.164 number)`.
pub fn parse_address(raw: &str, default_region: &str) -> Result<(&'static str, String), String> {
    if raw.contains('@') {
        Ok(("email", Email::parse(raw)?.as_str().to_string()))
    } else {
        Ok(("sms", E164::parse(raw, default_region)?.as_str().to_string()))
    }
}

/// One contact as stored. `fields` holds every non-empty column (known and custom) as text,
/// normalized; typed accessors read from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Stable id.
    pub id: ContactId,
    /// Every non-empty column, normalized (email lower-cased, phone E.164, dates ISO).
    pub fields: BTreeMap<String, String>,
    /// Plans this contact has already been enrolled in, oldest first.
    #[serde(default)]
    pub plan_history: Vec<String>,
    /// The last day the contact responded (a reply, a call back, a form, a deal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responded_on: Option<NaiveDate>,
    /// Addresses and numbers this contact had before an import changed them (so `forget`
    /// erases them too, and an opt-out through an old link still finds its owner).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub former: Vec<String>,
}

impl Contact {
    /// A column's value, if present and non-empty.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.fields.get(column).map(String::as_str).filter(|s| !s.is_empty())
    }
    /// The normalized email, if any.
    pub fn email(&self) -> Option<&str> {
        self.get("email")
    }
    /// The E.164 phone, if any.
    pub fn phone(&self) -> Option<&str> {
        self.get("phone")
    }
    /// First and last name, as a display name (`None` when both are empty).
    pub fn display_name(&self) -> Option<String> {
        let name = [self.get("first_name"), self.get("last_name")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!name.is_empty()).then_some(name)
    }
    /// The plan id the contact is on.
    pub fn plan(&self) -> Option<&str> {
        self.get("plan")
    }
    /// The day the contact entered its current plan.
    pub fn enrolled_on(&self) -> Option<NaiveDate> {
        self.get("enrolled_on").and_then(|d| d.parse::<NaiveDate>().ok())
    }
    /// The contact's timezone, else `fallback`.
    pub fn timezone(&self, fallback: chrono_tz::Tz) -> chrono_tz::Tz {
        self.get("timezone").and_then(|t| t.parse().ok()).unwrap_or(fallback)
    }
    /// The contact's language: the locale's first part, lower-cased (`ar-SA` → `ar`); `en`
    /// when it has none.
    pub fn language(&self) -> std::borrow::Cow<'_, str> {
        match self
            .get("locale")
            .and_then(|l| l.split(['-', '_']).next())
            .filter(|l| !l.is_empty())
        {
            Some(l) if l.bytes().any(|b| b.is_ascii_uppercase()) => l.to_ascii_lowercase().into(),
            Some(l) => l.into(),
            None => "en".into(),
        }
    }
    /// Records a response on `day` (the latest one is kept).
    pub fn respond(&mut self, day: NaiveDate) {
        if self.responded_on.is_none_or(|d| d < day) {
            self.responded_on = Some(day);
        }
    }
    /// True when the contact's locale is Arabic (`ar`, `ar-SA`, ...).
    pub fn is_arabic(&self) -> bool {
        self.get("locale").is_some_and(|l| l.to_ascii_lowercase().starts_with("ar"))
    }
    /// Every address and number of the contact, current and former.
    pub fn all_addresses(&self) -> impl Iterator<Item = &str> {
        self.email()
            .into_iter()
            .chain(self.phone())
            .chain(self.former.iter().map(String::as_str))
    }
    /// Moves the contact to `plan`, enrolled on `day`, remembering the previous plan.
    pub fn enroll(&mut self, plan: &str, day: NaiveDate) {
        if let Some(old) = self.plan().map(str::to_string)
            && self.plan_history.last() != Some(&old)
        {
            self.plan_history.push(old);
        }
        self.fields.insert("plan".into(), plan.to_string());
        self.fields.insert("enrolled_on".into(), day.to_string());
    }

    /// Fills this stored contact from a lead: only fields it has no value for (a lead never
    /// overwrites what is known, nor changes the plan of a contact on one), and never a way to
    /// reach them or a consent ([`never_from_a_lead`]). Returns true if anything changed.
    pub fn fill(&mut self, incoming: &Contact) -> bool {
        let before = self.clone();
        for (k, v) in &incoming.fields {
            if k == "id" || k == "plan" || k == "enrolled_on" || self.get(k).is_some() || never_from_a_lead(k) {
                continue;
            }
            self.fields.insert(k.clone(), v.clone());
        }
        if let (None, Some(plan), Some(day)) = (self.plan(), incoming.plan(), incoming.enrolled_on()) {
            self.enroll(plan, day);
        }
        *self != before
    }

    /// Merges an imported row into this stored contact. Non-empty imported values win, except
    /// `plan` / `enrolled_on`: a contact already on a plan, or who already finished it, is not
    /// re-enrolled by importing the same file again. Returns true if anything changed.
    pub fn merge(&mut self, incoming: &Contact) -> bool {
        let before = self.clone();
        for (k, v) in &incoming.fields {
            if k == "plan" || k == "enrolled_on" || k == "id" {
                continue;
            }
            if (k == "email" || k == "phone")
                && let Some(old) = self.get(k).filter(|old| *old != v)
                && !self.former.iter().any(|f| f == old)
            {
                self.former.push(old.to_string());
            }
            self.fields.insert(k.clone(), v.clone());
        }
        if let Some(plan) = incoming.plan() {
            let known = self.plan() == Some(plan) || self.plan_history.iter().any(|p| p == plan);
            if !known {
                let day = incoming.enrolled_on().or_else(|| self.enrolled_on());
                if let Some(day) = day {
                    self.enroll(plan, day);
                }
            }
        }
        *self != before
    }
}
