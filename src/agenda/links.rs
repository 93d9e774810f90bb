//! The signed links of the agenda email: **Done**, **Answered**, **No answer**, **Not
//! interested** for one item, for one agent, for a while. A link is a token sealed with
//! AES-SIV under a key derived from `[unsubscribe] secret` for this purpose only (an
//! unsubscribe token never opens as a link, nor the other way round): it names the agent, the
//! item, the action and the agenda's date, and reveals none of them without the key. Links
//! expire `[agenda] link_days` after the agenda's date; that each acts once is the store's
//! part (a marker per link).

use crate::compliance::token::derived_cipher;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

const PURPOSE: &[u8] = b"nurture agenda link v1";
const LABEL: &[u8] = b"a1";

/// What an agent does with an item from the agenda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It is done: close the item.
    Done,
    /// The contact answered: close the item and record a response.
    Answered,
    /// Nobody answered: note it in the history; the item stays open and rolls over.
    NoAnswer,
    /// The contact is not interested: close the item, move the contact to `lost`.
    NotInterested,
}

impl Action {
    /// Every action, in the order the email shows them.
    pub const ALL: [Action; 4] = [Action::Done, Action::Answered, Action::NoAnswer, Action::NotInterested];

    /// The name in links and on the command line (`no-answer`).
    pub fn slug(self) -> &'static str {
        match self {
            Action::Done => "done",
            Action::Answered => "answered",
            Action::NoAnswer => "no-answer",
            Action::NotInterested => "not-interested",
        }
    }

    /// The action a [`Action::slug`] names.
    pub fn from_slug(slug: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.slug() == slug)
    }

    /// Its label for people, in `lang` (`ar`, else English).
    pub fn label(self, lang: &str) -> &'static str {
        match (self, lang == "ar") {
            (Action::Done, false) => "Done",
            (Action::Answered, false) => "Answered",
            (Action::NoAnswer, false) => "No answer",
            (Action::NotInterested, false) => "Not interested",
            (Action::Done, true) => "تم",
            (Action::Answered, true) => "ردّ",
            (Action::NoAnswer, true) => "لا ردّ",
            (Action::NotInterested, true) => "غير مهتم",
        }
    }
}

/// What a link says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The agent the agenda was for (`*`: the items of no listed agent).
    pub agent: String,
    /// The agenda item's id.
    pub item_id: String,
    /// What the link does.
    pub action: Action,
    /// The date of the agenda that carried it.
    pub agenda_date: NaiveDate,
}

impl Link {
    /// The link's token (URL-safe, no padding).
    pub fn seal(&self, secret: &str) -> String {
        let plain = [
            self.agent.as_str(),
            self.item_id.as_str(),
            self.action.slug(),
            &self.agenda_date.to_string(),
        ]
        .join("\0");
        let sealed = derived_cipher(secret, PURPOSE)
            .encrypt([LABEL], plain.as_bytes())
            .expect("AES-SIV encrypts any length");
        URL_SAFE_NO_PAD.encode(sealed)
    }

    /// What `token` says, if one of `secrets` sealed it unaltered.
    pub fn open(secrets: &[&str], token: &str) -> Option<Link> {
        let sealed = URL_SAFE_NO_PAD.decode(token).ok()?;
        let plain = secrets
            .iter()
            .find_map(|s| derived_cipher(s, PURPOSE).decrypt([LABEL], &sealed).ok())?;
        let plain = String::from_utf8(plain).ok()?;
        let mut parts = plain.split('\0');
        let (agent, item_id, action, date) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Link {
            agent: agent.to_string(),
            item_id: item_id.to_string(),
            action: Action::from_slug(action)?,
            agenda_date: date.parse().ok()?,
        })
    }

    /// The last day the link works.
    pub fn last_day(&self, link_days: u32) -> NaiveDate {
        self.agenda_date + chrono::Days::new(u64::from(link_days))
    }

    /// True when the link is for `agent` (the item's agent now, any case): a contact handed to
    /// another agent since is no longer the first agent's to act on. A link of the `*` agenda
    /// (no listed agent) works while the item's agent is not one of `listed`.
    pub fn is_for(&self, agent: &str, listed: &[&str]) -> bool {
        if self.agent == "*" {
            !listed.iter().any(|a| a.eq_ignore_ascii_case(agent))
        } else {
            self.agent.eq_ignore_ascii_case(agent)
        }
    }
}

/// A short hash of a token: the key of its "acted" marker (the token itself is not stored).
pub fn token_hash(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..16])
}

/// The page of a token on the server at `base_url` (`[unsubscribe] base_url`).
pub fn url(base_url: &str, token: &str) -> String {
    format!("{}/a/{token}", base_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Link {
        Link {
            agent: "sara".into(),
            item_id: "c-1|8x8|w8-referral-call|2026-11-20".into(),
            action: Action::NotInterested,
            agenda_date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        }
    }

    #[test]
    fn a_link_opens_with_its_secret_or_a_previous_one_and_reveals_nothing() {
        let token = link().seal("s3cret");
        assert_eq!(Link::open(&["new", "s3cret"], &token), Some(link()));
        assert_eq!(Link::open(&["other"], &token), None);
        let plain = String::from_utf8_lossy(&URL_SAFE_NO_PAD.decode(&token).unwrap()).to_string();
        assert!(!plain.contains("sara") && !plain.contains("8x8"), "sealed, not signed");
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn an_altered_link_or_an_unsubscribe_token_opens_nothing() {
        let token = link().seal("s3cret");
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in [0, bytes.len() / 2, bytes.len() - 1] {
            bytes[i] ^= 1;
            assert_eq!(Link::open(&["s3cret"], &URL_SAFE_NO_PAD.encode(&bytes)), None, "byte {i}");
            bytes[i] ^= 1;
        }
        assert_eq!(Link::open(&["s3cret"], &token[..token.len() - 2]), None);
        let unsubscribe = crate::compliance::token::sign("s3cret", "c-1", "a@example.com");
        assert_eq!(Link::open(&["s3cret"], &unsubscribe), None);
        assert_eq!(crate::compliance::token::verify(&["s3cret"], &token), None);
    }

    #[test]
    fn each_action_of_each_item_has_its_own_link() {
        let tokens: std::collections::HashSet<String> = Action::ALL
            .iter()
            .map(|&action| Link { action, ..link() }.seal("k"))
            .chain([Link {
                agent: "omar".into(),
                ..link()
            }
            .seal("k")])
            .collect();
        assert_eq!(tokens.len(), 5);
        for a in Action::ALL {
            assert_eq!(Action::from_slug(a.slug()), Some(a));
        }
    }

    #[test]
    fn a_link_is_bound_to_its_agent_and_expires_after_link_days() {
        let l = link();
        assert!(l.is_for("Sara", &["sara", "omar"]));
        assert!(!l.is_for("omar", &["sara", "omar"]));
        let office = Link {
            agent: "*".into(),
            ..link()
        };
        assert!(office.is_for("", &["sara"]) && office.is_for("lee", &["sara"]));
        assert!(!office.is_for("SARA", &["sara"]));
        assert_eq!(l.last_day(14), NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
    }
}
