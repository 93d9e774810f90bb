//! Progress of long work on a terminal (indicatif): a count, a rate and the elapsed time on
//! one line of stderr. Under cron or in a pipe (stderr not a terminal) nothing is drawn — the
//! summary alone is printed — and `NO_COLOR` keeps it plain.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress line counting rows, messages, ...
pub struct Rows {
    bar: Option<ProgressBar>,
}

impl Rows {
    /// Starts a progress line of `what` (`rows`, `messages`) when `wanted` and stderr is a
    /// terminal.
    pub fn start(wanted: bool, what: &str) -> Rows {
        if !wanted || !std::io::stderr().is_terminal() {
            return Rows { bar: None };
        }
        let template = if super::colour() {
            format!("{{spinner:.green}} {{human_pos}} {what} · {{rate}} · {{elapsed}}")
        } else {
            format!("{{spinner}} {{human_pos}} {what} · {{rate}} · {{elapsed}}")
        };
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", s.per_sec());
            });
        bar.set_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        Rows { bar: Some(bar) }
    }

    /// Sets the count.
    pub fn set(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(n);
        }
    }

    /// Removes the line (the summary follows).
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
