//! The only source of "now": the system clock, or one fixed by `--date` / `--now`.

use chrono::{DateTime, NaiveDate, Utc};

/// Where the current time comes from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed instant (tests, `--now`, catch-up runs).
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The current instant.
    #[allow(clippy::disallowed_methods)]
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }

    /// Today's date in `tz`.
    pub fn today(&self, tz: chrono_tz::Tz) -> NaiveDate {
        self.now().with_timezone(&tz).date_naive()
    }

    /// Seconds since the Unix epoch, from the system clock (queue timestamps are always real time).
    #[allow(clippy::disallowed_methods)]
    pub fn unix_now() -> i64 {
        Utc::now().timestamp()
    }
}
