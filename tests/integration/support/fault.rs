//! A scriptable SMTP server (`fault_smtp.py`) for fault tests: chosen reply codes per stage,
//! stalls, a delayed or lost final reply, refused connections, and a stop/restart on the same
//! port. It logs every message it received, so tests count per recipient what really arrived.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running server.
pub struct FaultSmtp {
    child: Option<Child>,
    /// Its port (kept across restarts).
    pub port: u16,
    dir: PathBuf,
}

impl FaultSmtp {
    /// Starts it in `dir` with the behaviour `control` (JSON, see the script).
    pub fn start(dir: &Path, control: serde_json::Value) -> FaultSmtp {
        std::fs::create_dir_all(dir).unwrap();
        let mut s = FaultSmtp {
            child: None,
            port: 0,
            dir: dir.to_path_buf(),
        };
        s.set(control);
        s.spawn(None);
        s
    }

    fn spawn(&mut self, port: Option<u16>) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/support/fault_smtp.py");
        let port_file = self.dir.join("port");
        let _ = std::fs::remove_file(&port_file);
        let mut c = Command::new("python3");
        c.arg(script)
            .arg(&port_file)
            .arg(self.dir.join("received.jsonl"))
            .arg(self.dir.join("control.json"));
        if let Some(p) = port {
            c.arg(p.to_string());
        }
        self.child = Some(c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start python3"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !port_file.exists() {
            assert!(Instant::now() < deadline, "fault_smtp.py did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.port = std::fs::read_to_string(&port_file).unwrap().trim().parse().unwrap();
    }

    /// Changes the behaviour (read again for every connection and command).
    pub fn set(&self, control: serde_json::Value) {
        let tmp = self.dir.join("control.json.tmp");
        std::fs::write(&tmp, control.to_string()).unwrap();
        std::fs::rename(tmp, self.dir.join("control.json")).unwrap();
    }

    /// Kills the server: connections are refused until [`FaultSmtp::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn(Some(self.port));
    }

    /// Every message whose data the server read, in order.
    pub fn received(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("received.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// MAIL commands that arrived together with their RCPT (pipelined).
    pub fn pipelined(&self) -> usize {
        std::fs::read_to_string(self.dir.join("received.jsonl.pipelined"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// Messages whose data arrived while `delay_end` held their reply back.
    pub fn arrived(&self) -> usize {
        std::fs::read_to_string(self.dir.join("received.jsonl.arrived"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// Messages the server *accepted* (answered 250 after the data), per recipient.
    pub fn accepted_per_recipient(&self) -> HashMap<String, usize> {
        self.per_recipient(|m| m["accepted"] == true)
    }

    /// Messages whose data reached the server (accepted or not), per recipient.
    pub fn data_per_recipient(&self) -> HashMap<String, usize> {
        self.per_recipient(|_| true)
    }

    fn per_recipient(&self, keep: impl Fn(&serde_json::Value) -> bool) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for m in self.received().iter().filter(|m| keep(m)) {
            for r in m["rcpt"].as_array().unwrap() {
                *out.entry(r.as_str().unwrap().to_string()).or_insert(0) += 1;
            }
        }
        out
    }
}

impl Drop for FaultSmtp {
    fn drop(&mut self) {
        self.stop();
    }
}
