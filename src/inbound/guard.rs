//! The sender-reputation guard: bounce and complaint rates of the last 7 days (emails
//! accepted by the relay, hard bounces and complaints that came back, by the days of the runs
//! that sent them, so `--now` moves the window). Gmail and Yahoo block bulk senders whose
//! complaint rate passes 0.3 %; above `[inbound] complaint_limit` (or the hard-bounce rate
//! above `bounce_limit`) email stops like a refused relay, SMS goes on. Below
//! `complaint_min_sent` emails in the window the guard only warns (one complaint in a small
//! week must not stop a practice). `nurture inbound resume` lifts it for the rest of the
//! window.

use crate::config::InboundConfig;
use crate::facts::Counter;
use crate::ledger::EMAILS_SENT;
use crate::store::{Store, StoreError};
use chrono::NaiveDate;

/// Days in the window.
pub const WINDOW_DAYS: i64 = 7;

/// The window's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Rates {
    /// Emails accepted by the relay.
    pub emails_sent: u64,
    /// Addresses suppressed by returning bounces.
    pub bounces: u64,
    /// Spam complaints.
    pub complaints: u64,
    /// bounces ÷ emails sent × 100 (`None` when nothing was sent).
    pub bounce_rate: Option<f64>,
    /// complaints ÷ emails sent × 100 (`None` when nothing was sent).
    pub complaint_rate: Option<f64>,
}

/// What the guard says.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Judgement {
    /// Under the limits.
    Ok,
    /// Over a limit, but too few emails to judge, or lifted by `inbound resume`: go on.
    Warn {
        /// Why.
        reason: String,
    },
    /// Over a limit: email stops.
    Stop {
        /// Why, and what to do.
        reason: String,
    },
}

/// The figures of the 7 days ending `day`.
pub async fn rates(store: &Store, day: NaiveDate) -> Result<Rates, StoreError> {
    let mut r = Rates::default();
    for back in 0..WINDOW_DAYS {
        let date = (day - chrono::Duration::days(back)).to_string();
        for (name, value) in store.stats(&date).await? {
            let v = value.max(0.0) as u64;
            match name.as_str() {
                EMAILS_SENT => r.emails_sent += v,
                n if n == Counter::Bounces.name() => r.bounces += v,
                n if n == Counter::Complaints.name() => r.complaints += v,
                _ => {}
            }
        }
    }
    let rate = |n: u64| (r.emails_sent > 0).then(|| n as f64 / r.emails_sent as f64 * 100.0);
    r.bounce_rate = rate(r.bounces);
    r.complaint_rate = rate(r.complaints);
    Ok(r)
}

/// Judges `r` by `cfg`; `resumed` when the operator lifted the guard for this window.
pub fn judge(r: &Rates, cfg: &InboundConfig, resumed: bool) -> Judgement {
    let over = [
        ("complaint", r.complaint_rate, cfg.complaint_limit, "complaint_limit", r.complaints),
        ("hard-bounce", r.bounce_rate, cfg.bounce_limit, "bounce_limit", r.bounces),
    ]
    .into_iter()
    .find_map(|(what, rate, limit, key, n)| {
        rate.filter(|rate| *rate > limit).map(|rate| {
            format!(
                "the {what} rate of the last 7 days is {rate:.2} % ({n} of {} emails), above [inbound] {key} = {limit} %",
                r.emails_sent
            )
        })
    });
    let Some(reason) = over else { return Judgement::Ok };
    if resumed {
        return Judgement::Warn {
            reason: format!("{reason}; lifted by `nurture inbound resume`"),
        };
    }
    if r.emails_sent < cfg.complaint_min_sent {
        return Judgement::Warn {
            reason: format!(
                "{reason}; under [inbound] complaint_min_sent = {} emails, so email goes on",
                cfg.complaint_min_sent
            ),
        };
    }
    Judgement::Stop {
        reason: format!(
            "{reason}: email stops. Find the cause (the list's source, a template, the frequency: `nurture report`, \
             `nurture suppress list`), then `nurture inbound resume` lifts the guard for 7 days"
        ),
    }
}

/// The guard now: the rates of the window ending `day`, judged.
pub async fn check(store: &Store, cfg: &InboundConfig, day: NaiveDate) -> Result<(Rates, Judgement), StoreError> {
    let r = rates(store, day).await?;
    let resumed = store.exists(&store.keys.inbound_resumed()).await?;
    Ok((r, judge(&r, cfg, resumed)))
}

/// Lifts the guard for the rest of the window (`nurture inbound resume`).
pub async fn resume(store: &Store) -> Result<(), StoreError> {
    store
        .keep_answer(&store.keys.inbound_resumed(), "1", (WINDOW_DAYS * 86_400) as u64)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(sent: u64, bounces: u64, complaints: u64) -> Rates {
        let rate = |n: u64| (sent > 0).then(|| n as f64 / sent as f64 * 100.0);
        Rates {
            emails_sent: sent,
            bounces,
            complaints,
            bounce_rate: rate(bounces),
            complaint_rate: rate(complaints),
        }
    }

    #[test]
    fn the_guards_arithmetic() {
        let cfg = InboundConfig::default();
        // 3 of 1,000 is 0.3 %: not above the limit.
        assert_eq!(judge(&rates(1_000, 0, 3), &cfg, false), Judgement::Ok);
        // 4 of 1,000 is 0.4 %: email stops.
        let Judgement::Stop { reason } = judge(&rates(1_000, 0, 4), &cfg, false) else {
            panic!()
        };
        assert!(
            reason.contains("0.40 %") && reason.contains("complaint_limit") && reason.contains("inbound resume"),
            "{reason}"
        );
        // One complaint in a small week only warns.
        assert!(matches!(judge(&rates(200, 0, 1), &cfg, false), Judgement::Warn { .. }));
        // Hard bounces: 51 of 1,000 is above 5 %.
        assert!(matches!(judge(&rates(1_000, 51, 0), &cfg, false), Judgement::Stop { reason } if reason.contains("bounce_limit")));
        assert_eq!(judge(&rates(1_000, 50, 0), &cfg, false), Judgement::Ok);
        // Lifted by the operator.
        assert!(matches!(judge(&rates(1_000, 0, 9), &cfg, true), Judgement::Warn { .. }));
        assert_eq!(judge(&rates(0, 0, 0), &cfg, false), Judgement::Ok);
    }
}
