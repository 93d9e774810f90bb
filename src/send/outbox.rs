//! The embedded transports: emails as `.eml` files in a folder, SMS as lines of a JSON-lines
//! file. The demo runs with Redis alone.

use super::SendError;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// Writes each email to `DIR/<message-id>.eml` (the same delivery always lands in the same file).
pub struct EmlOutbox {
    dir: PathBuf,
}

impl EmlOutbox {
    /// An outbox in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> Self {
        EmlOutbox { dir }
    }
    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The startup check: the folder exists (or is created) and takes a file.
    pub async fn check(&self) -> Result<(), SendError> {
        let io = |e: std::io::Error| SendError::Refused(format!("outbox {}: {e}", self.dir.display()));
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        // A name of its own: the lanes of a process check at the same moment.
        let probe = self
            .dir
            .join(format!(".nurture-check-{}-{}.tmp", std::process::id(), fastrand::u64(..)));
        tokio::fs::write(&probe, b"").await.map_err(io)?;
        tokio::fs::remove_file(&probe).await.map_err(io)
    }
    /// Writes one message atomically (temp file + rename).
    pub async fn write(&self, message_id: &str, formatted: &[u8]) -> Result<(), SendError> {
        let io = |e: std::io::Error| SendError::Transient(format!("outbox {}: {e}", self.dir.display()));
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        let mut name: String = message_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '@'))
            .collect();
        if name.len() > 200 {
            // A long contact id makes a long Message-ID; file names end at 255 bytes.
            use sha2::Digest;
            name = hex::encode(sha2::Sha256::digest(name.as_bytes()));
        }
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut f = crate::private_file::tokio_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .await
            .map_err(io)?;
        f.write_all(formatted).await.map_err(io)?;
        f.flush().await.map_err(io)?;
        tokio::fs::rename(&tmp, self.dir.join(format!("{name}.eml"))).await.map_err(io)
    }
}

/// Appends each SMS as one JSON object per line.
pub struct SmsOutbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl SmsOutbox {
    /// An outbox file at `path` (its folder is created on first write).
    pub fn new(path: PathBuf) -> Self {
        SmsOutbox {
            path,
            lock: Mutex::new(()),
        }
    }
    /// The startup check: the file's folder exists (or is created).
    pub async fn check(&self) -> Result<(), SendError> {
        match self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| SendError::Refused(format!("sms outbox {}: {e}", self.path.display()))),
            None => Ok(()),
        }
    }
    /// Appends `{"to":..,"body":..,"id":..}`.
    pub async fn append(&self, to: &str, body: &str, id: &str) -> Result<(), SendError> {
        let io = |e: std::io::Error| SendError::Transient(format!("sms outbox {}: {e}", self.path.display()));
        let mut line = serde_json::to_string(&serde_json::json!({ "to": to, "body": body, "id": id })).unwrap_or_default();
        line.push('\n');
        let _guard = self.lock.lock().await;
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let mut f = crate::private_file::tokio_options()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(io)?;
        f.write_all(line.as_bytes()).await.map_err(io)?;
        f.flush().await.map_err(io)
    }
}
