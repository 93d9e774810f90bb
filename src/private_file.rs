//! Files that hold personal data — backups, exports, `report --html`, the outboxes — are
//! readable and writable by their owner only (0600), whatever the umask: a shared server's
//! other accounts cannot read a contact list left in `/tmp`.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of every file nurture writes personal data to.
pub const MODE: u32 = 0o600;

/// Creates (or truncates) `path` for writing, mode 0600 (also when it existed with another).
pub fn create(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().write(true).create(true).truncate(true).mode(MODE).open(path)?;
    file.set_permissions(Permissions::from_mode(MODE))?;
    Ok(file)
}

/// Writes `bytes` to `path`, mode 0600.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    io::Write::write_all(&mut create(path)?, bytes)
}

/// Makes a file another library wrote (a workbook) owner-only.
pub fn restrict(path: &Path) -> io::Result<()> {
    std::fs::set_permissions(path, Permissions::from_mode(MODE))
}

/// The options of an async file of personal data (the outboxes), mode 0600 when created.
pub fn tokio_options() -> tokio::fs::OpenOptions {
    let mut o = tokio::fs::OpenOptions::new();
    o.mode(MODE);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_owner_only_even_when_they_existed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}
