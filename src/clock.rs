//! The only source of "now": the system clock, or one fixed by `--date` / `--now`.

use chrono::{DateTime, NaiveDate, Utc};

/// Where the current time comes from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed instant (unit tests).
    Fixed(DateTime<Utc>),
    /// `--now`: starts at the given instant and runs on with the system clock, so a process
    /// started "at 23:30" sees 23:31 a minute later (queue times follow it).
    From(DateTime<Utc>, std::time::Instant),
}

impl Clock {
    /// The current instant.
    #[allow(clippy::disallowed_methods)]
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
            Clock::From(t, started) => *t + chrono::Duration::from_std(started.elapsed()).unwrap_or_default(),
        }
    }

    /// A clock that starts at `t` now and runs on (`--now`).
    pub fn starting_at(t: DateTime<Utc>) -> Clock {
        Clock::From(t, std::time::Instant::now())
    }

    /// Unix seconds on this clock: the time scale of the queue's schedule.
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    /// Today's date in `tz`.
    pub fn today(&self, tz: chrono_tz::Tz) -> NaiveDate {
        self.now().with_timezone(&tz).date_naive()
    }

    /// Seconds since the Unix epoch, from the system clock (heartbeats, leases).
    #[allow(clippy::disallowed_methods)]
    pub fn unix_now() -> i64 {
        Utc::now().timestamp()
    }
}
