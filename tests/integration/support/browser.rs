//! Headless Chromium driven through chromedriver's W3C WebDriver HTTP API.

use super::{free_port_pub, http, wait_for_port_pub};
use base64::Engine;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver.
pub struct Driver {
    child: Child,
    base: String,
    profile: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver, or `None` when Chromium or chromedriver is not installed.
    pub fn start() -> Option<Driver> {
        let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        if !Path::new("/usr/bin/chromium").exists() {
            return None;
        }
        let port = free_port_pub();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        wait_for_port_pub(port);
        Some(Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            profile: tempfile::tempdir().ok()?,
        })
    }

    /// A new headless browser session.
    pub fn session(&self) -> Session {
        self.session_with(json!({}))
    }

    /// A session as a phone shows pages: a 390 × 844 CSS-pixel viewport at 2 device pixels
    /// each, touch, a mobile user agent's layout (Chromium's device emulation).
    pub fn phone_session(&self) -> Session {
        self.session_with(
            json!({"mobileEmulation": {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2.0, "touch": true, "mobile": true}}}),
        )
    }

    fn session_with(&self, extra: Value) -> Session {
        let mut options = json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=900,700",
                     format!("--user-data-dir={}", self.profile.path().display())]
        });
        if let (Some(o), Some(e)) = (options.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}});
        let v = call(&format!("{}/session", self.base), "POST", Some(caps));
        let id = v["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_string();
        Session {
            base: format!("{}/session/{id}", self.base),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
pub struct Session {
    base: String,
}

fn call(url: &str, method: &str, body: Option<Value>) -> Value {
    let text = body.map(|b| b.to_string()).unwrap_or_default();
    let r = http(method, url, &[("Content-Type", "application/json")], &text);
    let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("webdriver {url}: {e}: {}", r.body));
    assert!(r.status == 200, "webdriver {method} {url}: {} {v}", r.status);
    v["value"].clone()
}

impl Session {
    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        call(&format!("{}/url", self.base), "POST", Some(json!({"url": url})));
    }
    fn element(&self, css: &str) -> String {
        let v = call(
            &format!("{}/element", self.base),
            "POST",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }
    /// Waits up to 5 s for an element matching `css` (the page after a form post, say).
    pub fn wait_for(&self, css: &str) {
        let url = format!("{}/element", self.base);
        let body = json!({"using": "css selector", "value": css}).to_string();
        for _ in 0..100 {
            if http("POST", &url, &[("Content-Type", "application/json")], &body).status == 200 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no {css} after 5 s");
    }
    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        call(&format!("{}/element/{id}/click", self.base), "POST", Some(json!({})));
    }
    /// Types `text` into the first element matching `css`.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        call(&format!("{}/element/{id}/clear", self.base), "POST", Some(json!({})));
        call(&format!("{}/element/{id}/value", self.base), "POST", Some(json!({ "text": text })));
    }
    /// The value of attribute `name` of the first element matching `css`.
    pub fn attribute(&self, css: &str, name: &str) -> String {
        let id = self.element(css);
        call(&format!("{}/element/{id}/attribute/{name}", self.base), "GET", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    /// Scrolls the first element matching `css` into view.
    pub fn scroll_to(&self, css: &str) {
        self.run("document.querySelector(arguments[0]).scrollIntoView()", json!([css]));
    }
    /// Runs `script` in the page with `args` (what a person could not do: fill a hidden field).
    pub fn run(&self, script: &str, args: Value) -> Value {
        call(
            &format!("{}/execute/sync", self.base),
            "POST",
            Some(json!({ "script": script, "args": args })),
        )
    }
    /// Moves into the frame matching `css`.
    pub fn switch_to_frame(&self, css: &str) {
        let id = self.element(css);
        call(&format!("{}/frame", self.base), "POST", Some(json!({ "id": { ELEMENT: id } })));
    }
    /// Moves back to the parent document.
    pub fn switch_to_parent(&self) {
        call(&format!("{}/frame/parent", self.base), "POST", Some(json!({})));
    }
    /// The visible text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let id = self.element(css);
        call(&format!("{}/element/{id}/text", self.base), "GET", None)
            .as_str()
            .unwrap()
            .to_string()
    }
    /// Prints the page to PDF on paper of `width` × `height` cm, portrait, as Chromium's
    /// print does (print stylesheet included); saves it as
    /// `target/tmp/screenshots/{name}.pdf` and returns its path.
    pub fn print_pdf(&self, name: &str, width: f64, height: f64) -> std::path::PathBuf {
        let v = call(
            &format!("{}/print", self.base),
            "POST",
            Some(json!({"orientation": "portrait", "page": {"width": width, "height": height}, "background": true})),
        );
        keep(&format!("{name}.pdf"), &v, "printed")
    }
    /// Saves a PNG screenshot as `target/tmp/screenshots/{name}.png` (kept after the test)
    /// and prints where; returns the path.
    pub fn screenshot(&self, name: &str) -> std::path::PathBuf {
        let v = call(&format!("{}/screenshot", self.base), "GET", None);
        keep(&format!("{name}.png"), &v, "screenshot")
    }
}

/// Saves the base64 `data` WebDriver answered as `target/tmp/screenshots/{file}` (kept after
/// the test), says where (`{what}: PATH`), and returns the path.
fn keep(file: &str, data: &Value, what: &str) -> std::path::PathBuf {
    let bytes = base64::engine::general_purpose::STANDARD.decode(data.as_str().unwrap()).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, bytes).unwrap();
    eprintln!("{what}: {}", path.display());
    path
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = http("DELETE", &self.base, &[], "");
    }
}
