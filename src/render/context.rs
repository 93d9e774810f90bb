//! The render context: what `{{contact.*}}`, `{{sender.*}}`, `{{agent.*}}`,
//! `{{unsubscribe_url}}`, `{{plan.*}}`, `{{touch.id}}` and `{{today}}` mean in a template.

use crate::config::SenderConfig;
use crate::contacts::Contact;
use chrono::NaiveDate;
use serde_json::{Value, json};

/// The parts of a message's context that are not the contact.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The sender.
    pub sender: &'a SenderConfig,
    /// The contact's agent: name, email, phone (the sender's when it has none).
    pub agent: (&'a str, &'a str, &'a str),
    /// Plan id and display name.
    pub plan: (&'a str, &'a str),
    /// Touch id.
    pub touch: &'a str,
    /// The date of the run (`{{today}}`).
    pub today: NaiveDate,
    /// The contact's signed unsubscribe link.
    pub unsubscribe_url: String,
}

/// Builds the JSON context. Empty contact fields are left out, so strict mode reports them.
pub fn build(contact: &Contact, env: &Envelope<'_>) -> Value {
    let fields: serde_json::Map<String, Value> = contact
        .fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "contact": fields,
        "sender": {
            "name": env.sender.name,
            "email": env.sender.email,
            "postal_address": env.sender.postal_address,
        },
        "agent": { "name": env.agent.0, "email": env.agent.1, "phone": env.agent.2 },
        "unsubscribe_url": env.unsubscribe_url,
        "plan": { "id": env.plan.0, "name": env.plan.1 },
        "touch": { "id": env.touch },
        "today": env.today.to_string(),
    })
}
