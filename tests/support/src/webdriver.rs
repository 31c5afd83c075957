//! Just enough of the W3C WebDriver protocol to drive the app through tauri-driver (which
//! hands the session to WebKitWebDriver): sessions, finding, clicking, reading, screenshots.

use base64::Engine;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP/1.1 request with a JSON body; the answer's JSON. A connection that closes without
/// an answer is tried again once: tauri-driver's proxy now and then drops one.
fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    match try_request(port, method, path, body) {
        Some(answer) => answer,
        None => try_request(port, method, path, body)
            .unwrap_or_else(|| panic!("{method} {path}: no answer from tauri-driver")),
    }
}

fn try_request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Option<Value> {
    let body = body.map(Value::to_string).unwrap_or_default();
    // No answer (a dead tauri-driver) is None, never a panic: Drop calls this too.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    // Read the head, then exactly the body it announces (the connection stays open).
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let have = raw.len() - head_end;
        let done = match length {
            Some(n) => have >= n,
            None if chunked => raw.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let payload = String::from_utf8_lossy(&raw[head_end..]).into_owned();
    let payload = if chunked { dechunk(&payload) } else { payload };
    Some(
        serde_json::from_str(&payload)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}: {payload}")),
    )
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// tauri-driver on a free port, and the app it starts.
pub struct Driver {
    child: Child,
    port: u16,
    session: String,
}

/// tauri-driver: `$TAURI_DRIVER`, else the copy scripts/test installs in target/tools.
pub fn tauri_driver() -> PathBuf {
    std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/tools/bin/tauri-driver"))
}

impl Driver {
    /// Starts tauri-driver with `command`'s environment and opens a session on `app` with
    /// `args`; the app's window must exist at start.
    pub fn start(mut command: Command, app: &Path, args: &[&str]) -> Self {
        let port = free_port();
        let native = free_port();
        let child = command
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {command:?}: {e} (scripts/test installs tauri-driver)")
            });
        let listening = crate::wait_for(20, || TcpStream::connect(("127.0.0.1", port)).ok());
        assert!(listening.is_some(), "tauri-driver did not listen on {port}");
        let created = request(
            port,
            "POST",
            "/session",
            Some(&json!({"capabilities": {"alwaysMatch": {"tauri:options": {
                "application": app.display().to_string(),
                "args": args,
            }}}})),
        );
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Self {
            child,
            port,
            session,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let answer = request(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        );
        answer["value"].clone()
    }

    /// The first element matching a CSS selector, if any.
    pub fn find(&self, css: &str) -> Option<String> {
        let found = self.call(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        found
            .as_object()?
            .iter()
            .find(|(k, _)| k.starts_with("element-"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    }

    /// Clicks an element.
    pub fn click(&self, element: &str) {
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            Some(&json!({})),
        );
    }

    /// Replaces an input's value with `text`, as typing would.
    pub fn fill(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &format!("/element/{element}/clear"),
            Some(&json!({})),
        );
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(&json!({"text": text})),
        );
    }

    /// An element's visible text.
    pub fn text(&self, element: &str) -> String {
        self.call("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` in the page as an async WebDriver script: its last argument is the
    /// callback that returns a value.
    pub fn execute_async(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// The page title.
    pub fn title(&self) -> String {
        self.call("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A PNG of the window, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        // WebKitGTK under Xvfb captures the last frame it painted: let the latest change paint.
        std::thread::sleep(Duration::from_millis(400));
        let data = self.call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        std::fs::write(path, bytes).expect("write the screenshot");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // A panic here, while a failed test unwinds, would abort every test in the binary.
        let _ = try_request(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
