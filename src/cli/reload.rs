//! Live reload for `serve` and `work`: every `[paths] reload_secs`, when files in `jobs/` or
//! `templates/` changed, load and check them exactly as `run` does before its first enqueue;
//! install the new version if it has no error, else log its problems (`file:line:col`) and
//! keep the last good version in use.

use super::check_workspace;
use crate::contacts::census::CensusMode;
use crate::store::Store;
use crate::workspace::Live;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Watches the files until `stop` turns true.
pub(super) async fn watch(live: Arc<Live>, store: Store, mut stop: watch::Receiver<bool>) {
    let secs = live.get().config.paths.reload_secs;
    if secs == 0 {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if live.changed().is_none() {
            continue;
        }
        let config = live.get().config.clone();
        match check_workspace(config, Some(&store), CensusMode::Presence).await {
            Ok(ws) if ws.is_ok() => {
                for d in &ws.diagnostics {
                    tracing::warn!("{d}");
                }
                tracing::info!(
                    plans = ws.plans.len(),
                    templates = ws.catalog.names().len(),
                    "reloaded plans and templates"
                );
                live.install(ws);
            }
            Ok(ws) => {
                for d in ws.errors() {
                    tracing::error!("{}", d.render());
                }
                tracing::error!(
                    errors = ws.errors().count(),
                    "the edited plans or templates have errors; the last good version stays in use"
                );
            }
            Err(e) => {
                // The edit is looked at again at the next tick.
                live.retry();
                tracing::warn!(error = %e, "cannot check the edited templates against the contacts; trying again");
            }
        }
    }
}
