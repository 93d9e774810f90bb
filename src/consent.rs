//! SMS double opt-in for the anonymous lead form: a ticked box only makes a *pending* consent
//! ([`PENDING`]); one confirmation text asks the number to reply YES ([`ask`]), at most once a
//! month per number; the YES, through the provider's signed webhook, turns it into
//! `sms_consent` ([`confirm`]). Until then the send-time consent check keeps every marketing
//! text from the number — whoever typed it into the form.

use crate::compliance::erasure::address_hash;
use crate::config::Config;
use crate::contacts::Contact;
use crate::history::Event;
use crate::render::RenderedSms;
use crate::store::{Store, StoreError};
use chrono::NaiveDate;

/// The field of a consent given on the form and not yet confirmed: `DATE lead form`.
pub const PENDING: &str = "sms_consent_pending";

/// How long a number asked once is not asked again.
const ASK_AGAIN_AFTER_SECS: u64 = 30 * 86_400;

/// Whether `contact` waits for its confirmation: a pending consent and no consent.
pub fn is_pending(contact: &Contact) -> bool {
    contact.get(PENDING).is_some() && contact.get("sms_consent").is_none()
}

/// Texts `contact` the confirmation request, unless it is not pending, its number is
/// suppressed (a STOP) or was asked within a month. Returns whether a text went out.
pub async fn ask(store: &Store, config: &Config, contact: &Contact, today: NaiveDate) -> anyhow::Result<bool> {
    let Some(phone) = contact.phone().filter(|_| is_pending(contact)) else {
        return Ok(false);
    };
    if store.is_suppressed("sms", phone).await? {
        return Ok(false);
    }
    let hash = address_hash(config.pepper(), "sms", phone);
    if !store.try_lock(&store.keys.consent_asked(&hash), ASK_AGAIN_AFTER_SECS).await? {
        return Ok(false);
    }
    let sms = RenderedSms {
        body: request_text(&config.sender.name, &config.sms.opt_out_text, contact.is_arabic()),
        template: "(consent confirmation)".into(),
    };
    let cleared = crate::compliance::check_sms(sms, Some(phone), false, &config.sms.opt_out_text)?;
    let sender = crate::send::SmsSender::from_config(config).map_err(anyhow::Error::msg)?;
    sender.send(&cleared, &format!("consent|{hash}|{today}")).await?;
    let event = Event::new(today.to_string(), "sms_consent_asked", "confirmation text: reply YES");
    store.push_history(&[(contact.id.0.clone(), event)]).await?;
    Ok(true)
}

/// The confirmation request: who asks, what to answer, and how to say no.
fn request_text(sender: &str, opt_out: &str, arabic: bool) -> String {
    if arabic {
        format!("{sender}: أرسل YES لتأكيد رغبتك في تلقي رسائلنا النصية. قد تُطبق رسوم الرسائل. {opt_out}")
    } else {
        format!("{sender}: reply YES to confirm you want our texts. Msg & data rates may apply. {opt_out}")
    }
}

/// A YES from `contact`'s number: a pending consent becomes `sms_consent` (dated, saying how it
/// was given). Returns false when nothing was pending (the YES is then an ordinary opt-in).
pub async fn confirm(store: &Store, contact: &Contact, day: NaiveDate) -> Result<bool, StoreError> {
    if !is_pending(contact) {
        return Ok(false);
    }
    let mut confirmed = false;
    store
        .update_contacts(std::slice::from_ref(&contact.id.0), |_, stored| {
            let mut c = stored?;
            if !is_pending(&c) {
                return None;
            }
            let asked = c.fields.remove(PENDING).unwrap_or_default();
            c.fields
                .insert("sms_consent".into(), format!("{day} replied YES (asked after {asked})"));
            confirmed = true;
            Some(c)
        })
        .await?;
    if confirmed {
        let event = Event::new(day.to_string(), "sms_consent_confirmed", "replied YES");
        store.push_history(&[(contact.id.0.clone(), event)]).await?;
    }
    Ok(confirmed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_request_names_the_sender_the_answer_and_the_way_out() {
        let text = super::request_text("Sara Haddad", "Reply STOP to opt out", false);
        assert!(
            text.starts_with("Sara Haddad: reply YES") && text.ends_with("Reply STOP to opt out"),
            "{text}"
        );
        assert!(super::request_text("سارة", "Reply STOP to opt out", true).contains("YES"));
    }
}
