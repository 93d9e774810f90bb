//! Live edits: the workspace a long-running process (`serve`, `work`) uses, swapped for a new
//! one when files in `jobs/` or `templates/` change and the new files pass the same checks as
//! `lint`. Which files changed is told by a [`stamp`] of their names, sizes and modification
//! times; the checking and logging is the caller's (it needs Redis for the contact census).
//! `run` never reloads: it uses the files as they were when it started.

use super::Workspace;
use crate::config::Config;
use arc_swap::ArcSwap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The workspace in use, replaceable while jobs run (each job takes the one current when it
/// starts).
#[derive(Debug)]
pub struct Live {
    current: ArcSwap<Workspace>,
    /// The stamp of the files last looked at (good or not), so a broken edit is reported once.
    seen: AtomicU64,
}

impl Live {
    /// Starts with `ws`, stamped with its files as they are now.
    pub fn new(ws: Arc<Workspace>) -> Live {
        let seen = AtomicU64::new(stamp(&ws.config));
        Live {
            current: ArcSwap::new(ws),
            seen,
        }
    }

    /// The workspace to use now.
    pub fn get(&self) -> Arc<Workspace> {
        self.current.load_full()
    }

    /// The new stamp when the files changed since they were last looked at (and remembers it).
    pub fn changed(&self) -> Option<u64> {
        let now = stamp(&self.get().config);
        (self.seen.swap(now, Ordering::Relaxed) != now).then_some(now)
    }

    /// Forgets the last stamp, so the next [`Live::changed`] reports a change.
    pub fn retry(&self) {
        self.seen.store(0, Ordering::Relaxed);
    }

    /// Puts `ws` in use for every job that starts from now on.
    pub fn install(&self, ws: Workspace) {
        self.current.store(Arc::new(ws));
    }
}

/// A hash of the path, size and modification time of every file under the plan and template
/// folders: it changes when a file is added, removed, renamed or written.
pub fn stamp(config: &Config) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for dir in [&config.paths.jobs, &config.paths.templates] {
        let mut entries: Vec<(std::path::PathBuf, u64, u128)> = walkdir::WalkDir::new(config.resolve(dir))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                Some((e.into_path(), meta.len(), modified))
            })
            .collect();
        entries.sort();
        entries.hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_changes_when_a_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            base_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/a.sms.hbs"), "hi").unwrap();
        let before = stamp(&config);
        assert_eq!(before, stamp(&config));
        std::fs::write(dir.path().join("templates/a.sms.hbs"), "hello").unwrap();
        assert_ne!(before, stamp(&config), "size changed");
        let after_write = stamp(&config);
        std::fs::write(dir.path().join("templates/b.sms.hbs"), "x").unwrap();
        assert_ne!(after_write, stamp(&config), "file added");
    }
}
