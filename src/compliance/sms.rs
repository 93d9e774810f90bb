//! SMS compliance rules: opt-out keywords (CTIA / Twilio, plus Arabic), recorded consent and
//! quiet hours in the contact's local time ([`SmsRules::judge`]: may this SMS go now?), and
//! Twilio webhook signatures (`X-Twilio-Signature`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use hmac::{Hmac, Mac};

use crate::contacts::Contact;

/// What an inbound message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Stop all marketing SMS to this number.
    Stop,
    /// Subscribe again.
    Start,
    /// Anything else (a reply for the agent).
    Other,
}

const STOP: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPT OUT",
    "OPTOUT",
    "توقف",
    "إلغاء",
    "الغاء",
];
const START: &[&str] = &["START", "UNSTOP", "YES"];

/// Classifies an inbound body: the whole message, trimmed, any case, inner spaces collapsed.
pub fn keyword(body: &str) -> Keyword {
    let normalized = body.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
    let normalized = normalized.trim_end_matches(['.', '!']);
    if STOP.contains(&normalized) {
        Keyword::Stop
    } else if START.contains(&normalized) {
        Keyword::Start
    } else {
        Keyword::Other
    }
}

/// A daily window in local time when marketing SMS must not be sent, e.g. `21:00-08:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Quiet from (inclusive).
    pub from: NaiveTime,
    /// Open again at (exclusive end of the quiet window).
    pub until: NaiveTime,
}

impl QuietHours {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(s: &str) -> Result<QuietHours, String> {
        let (a, b) = s.split_once('-').ok_or_else(|| format!("expected HH:MM-HH:MM, got {s:?}"))?;
        let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").map_err(|_| format!("expected HH:MM-HH:MM, got {s:?}"));
        Ok(QuietHours { from: t(a)?, until: t(b)? })
    }

    fn is_quiet(&self, t: NaiveTime) -> bool {
        if self.from <= self.until {
            t >= self.from && t < self.until
        } else {
            t >= self.from || t < self.until
        }
    }

    /// `None` if `now` is inside the open window in `tz`; else the next instant it opens.
    pub fn next_open(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz);
        if !self.is_quiet(local.time()) {
            return None;
        }
        let mut day = local.date_naive();
        if local.time() >= self.until {
            day = day.succ_opt()?;
        }
        // The first valid local instant at or after `until` (DST gaps move it forward).
        (0..180)
            .find_map(|m| {
                tz.from_local_datetime(&day.and_time(self.until + chrono::Duration::minutes(m)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
    }
}

/// What the SMS rules say about sending one SMS now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsGate {
    /// It may go now.
    Go,
    /// No recorded consent (`[sms] require_consent`): never sent.
    NoConsent,
    /// Moved by quiet hours and now past its grace window: recorded as missed, never sent late.
    Missed,
    /// Inside the contact's quiet hours: wait until this unix time (the window opens).
    Wait(i64),
}

/// The consent and quiet-hours rules of `[sms]`.
#[derive(Debug, Clone)]
pub struct SmsRules {
    /// `[sms] require_consent`.
    pub require_consent: bool,
    /// `[sms] quiet_hours`.
    pub quiet: QuietHours,
    /// The sender's timezone, for contacts without their own.
    pub sender_tz: Tz,
}

impl SmsRules {
    /// Judges one SMS at `now`. `not_before` is the open slot a job was already moved to (it
    /// is judged at that slot, so it is never moved twice); `too_late` says its grace window
    /// is over.
    pub fn judge(&self, contact: &Contact, not_before: Option<i64>, too_late: bool, now: DateTime<Utc>) -> SmsGate {
        if self.require_consent && contact.get("sms_consent").is_none() {
            return SmsGate::NoConsent;
        }
        if not_before.is_some() && too_late {
            return SmsGate::Missed;
        }
        let at = not_before
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .map_or(now, |slot| slot.max(now));
        match self.quiet.next_open(at, contact.timezone(self.sender_tz)) {
            None => SmsGate::Go,
            Some(open) => SmsGate::Wait(open.timestamp().max(now.timestamp() + 1)),
        }
    }
}

/// Twilio's request signature: base64(HMAC-SHA1(auth_token, url + sorted `key value` pairs)).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a received signature in constant time.
pub fn verify_twilio(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let expected = twilio_signature(auth_token, url, params);
    let (a, b) = (expected.as_bytes(), signature.trim().as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> SmsRules {
        SmsRules {
            require_consent: true,
            quiet: QuietHours::parse("21:00-08:00").unwrap(),
            sender_tz: chrono_tz::America::Chicago,
        }
    }

    fn contact(consent: bool) -> Contact {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("phone".to_string(), "+12175550100".to_string());
        if consent {
            fields.insert("sms_consent".to_string(), "2026-01-01".to_string());
        }
        Contact {
            id: crate::contacts::ContactId("+12175550100".into()),
            fields,
            plan_history: vec![],
            responded_on: None,
            former: vec![],
        }
    }

    #[test]
    fn consent_then_grace_then_quiet_hours() {
        let noon = "2026-11-20T18:00:00Z".parse::<DateTime<Utc>>().unwrap(); // 12:00 Chicago
        let night = "2026-11-21T04:00:00Z".parse::<DateTime<Utc>>().unwrap(); // 22:00 Chicago
        let r = rules();
        assert_eq!(r.judge(&contact(false), None, false, noon), SmsGate::NoConsent);
        assert_eq!(r.judge(&contact(true), None, false, noon), SmsGate::Go);
        let opens = "2026-11-21T14:00:00Z".parse::<DateTime<Utc>>().unwrap().timestamp(); // 08:00
        assert_eq!(r.judge(&contact(true), None, false, night), SmsGate::Wait(opens));
        // Already moved to 08:00 and judged at that slot: it goes then, not moved again.
        assert_eq!(r.judge(&contact(true), Some(opens), false, night), SmsGate::Go);
        assert_eq!(r.judge(&contact(true), Some(opens), true, night), SmsGate::Missed);
    }

    #[test]
    fn keywords_any_case_trimmed_arabic() {
        for s in [
            "STOP",
            " stop ",
            "Stop.",
            "opt out",
            "OPT   OUT",
            "OptOut",
            "stopall",
            "revoke",
            "توقف",
            " إلغاء ",
        ] {
            assert_eq!(keyword(s), Keyword::Stop, "{s}");
        }
        for s in ["start", "UNSTOP", "Yes"] {
            assert_eq!(keyword(s), Keyword::Start, "{s}");
        }
        for s in ["please stop by tomorrow", "stopp", ""] {
            assert_eq!(keyword(s), Keyword::Other, "{s}");
        }
    }

    fn params(caller: &str) -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", caller),
            ("Digits", "1234"),
            ("From", caller),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The worked example of Twilio's "validating requests" documentation (both published
    /// versions of it: the caller number changed between them).
    #[test]
    fn twilio_published_vectors() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            twilio_signature("12345", url, &params("+12349013030")),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert_eq!(
            twilio_signature("12345", url, &params("+14158675310")),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        );
        assert!(verify_twilio("12345", url, &params("+14158675310"), "GvWf1cFY/Q7PnoempGyD5oXAezc="));
        assert!(!verify_twilio(
            "12345",
            url,
            &params("+14158675310"),
            "GvWf1cFY/Q7PnoempGyD5oXAezd="
        ));
        assert!(!verify_twilio(
            "wrong",
            url,
            &params("+14158675310"),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        ));
        assert!(!verify_twilio("12345", url, &params("+14158675310"), ""));
    }

    #[test]
    fn quiet_hours_defer_to_next_morning_in_contact_time() {
        let q = QuietHours::parse("21:00-08:00").unwrap();
        let tz: Tz = "America/Chicago".parse().unwrap();
        // 2026-11-20 22:30 in Chicago (UTC-6) = 2026-11-21 04:30 UTC
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 4, 30, 0).unwrap();
        assert_eq!(q.next_open(now, tz), Some(Utc.with_ymd_and_hms(2026, 11, 21, 14, 0, 0).unwrap()));
        // 06:00 local: opens at 08:00 the same day
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        assert_eq!(q.next_open(now, tz), Some(Utc.with_ymd_and_hms(2026, 11, 21, 14, 0, 0).unwrap()));
        // 12:00 local: open
        assert_eq!(q.next_open(Utc.with_ymd_and_hms(2026, 11, 21, 18, 0, 0).unwrap(), tz), None);
        let riyadh: Tz = "Asia/Riyadh".parse().unwrap();
        assert!(
            q.next_open(Utc.with_ymd_and_hms(2026, 11, 21, 18, 30, 0).unwrap(), riyadh)
                .is_some(),
            "21:30 in Riyadh is quiet"
        );
    }
}
