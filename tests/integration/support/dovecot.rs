//! A real Dovecot IMAP server for the returning-mail tests: started on a free port with its
//! own configuration and mail folder (never the system service), one user `bounces` /
//! `secret`; stopped when dropped. Messages go in and are looked at through Python's imaplib
//! (`imap.py`), an IMAP client independent of nurture's.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running Dovecot.
pub struct Dovecot {
    child: Child,
    /// Its IMAP port (plain IMAP on 127.0.0.1).
    pub port: u16,
    dir: PathBuf,
}

/// What `imap.py list` says of one message.
#[derive(Debug, serde::Deserialize)]
pub struct Listed {
    /// UID.
    pub uid: u32,
    /// Flags and keywords (`\Seen`, `NurtureLeft`).
    pub flags: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Message-ID.
    pub message_id: String,
}

impl Dovecot {
    /// Starts one in `dir` (created).
    pub fn start(dir: &Path) -> Dovecot {
        let bin = Path::new("/usr/sbin/dovecot");
        assert!(
            bin.exists(),
            "Dovecot is not installed: `apt-get install dovecot-imapd` (.ci/run installs it)"
        );
        let dir = dir.to_path_buf();
        let mail = dir.join("mail");
        for d in [&dir, &mail] {
            std::fs::create_dir_all(d).unwrap();
        }
        // The mail user is `nobody` (Dovecot refuses root): its home must be writable to it.
        std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = super::free_port_pub();
        std::fs::write(
            dir.join("passwd"),
            format!("bounces:{{PLAIN}}secret:65534:65534::{}\n", mail.join("bounces").display()),
        )
        .unwrap();
        let conf = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {run}
instance_name = nurture-test-{port}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
mail_location = maildir:~/Maildir
log_path = {log}
passdb {{
  driver = passwd-file
  args = {passwd}
}}
userdb {{
  driver = passwd-file
  args = {passwd}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"#,
            run = dir.join("run").display(),
            log = dir.join("dovecot.log").display(),
            passwd = dir.join("passwd").display(),
        );
        std::fs::write(dir.join("dovecot.conf"), conf).unwrap();
        let child = Command::new(bin)
            .args(["-F", "-c"])
            .arg(dir.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        super::wait_for_port_pub(port);
        Dovecot { child, port, dir }
    }

    /// `imap://bounces:secret@127.0.0.1:PORT/INBOX`
    pub fn url(&self) -> String {
        format!("imap://bounces:secret@127.0.0.1:{}/INBOX", self.port)
    }

    /// Puts each raw message in `folder`, unread, as a relay delivers it.
    pub fn append(&self, folder: &str, messages: &[Vec<u8>]) {
        let mut files = Vec::new();
        for (i, raw) in messages.iter().enumerate() {
            let path = self.dir.join(format!("append-{i}.eml"));
            std::fs::write(&path, raw).unwrap();
            files.push(path);
        }
        let out = self.imap(&["append", folder], &files);
        assert!(out.status.success(), "imap append: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The messages of `folder` (empty when it does not exist).
    pub fn list(&self, folder: &str) -> Vec<Listed> {
        let out = self.imap(&["list", folder], &[]);
        assert!(out.status.success(), "imap list: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn imap(&self, args: &[&str], files: &[PathBuf]) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/support/imap.py");
        Command::new("python3")
            .arg(script)
            .arg(self.port.to_string())
            .args(args)
            .args(files)
            .output()
            .unwrap()
    }

    /// Stops it (the port refuses connections afterwards).
    pub fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}
