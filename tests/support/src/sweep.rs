//! Looking for leaked secrets: what a process printed, what it and its children carried on
//! their command lines and in their environments (from /proc), what is left in HOME.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Reads a child's pipe to its end on a thread of its own, so a full pipe never blocks it.
pub fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// `pid` and every process below it, from the kernel's lists of children.
pub fn with_descendants(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut next = 0;
    while next < all.len() {
        let tasks = format!("/proc/{}/task", all[next]);
        next += 1;
        for task in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    all
}

/// A process's program, command line and environment, when one program was running
/// throughout the reading (a process that execs in between is read again later).
pub fn sample(pid: u32) -> Option<(PathBuf, String, String)> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let exe = std::fs::read_link(dir.join("exe")).ok()?;
    let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
    let environ = std::fs::read(dir.join("environ")).ok()?;
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).replace('\0', " ");
    (std::fs::read_link(dir.join("exe")).ok()? == exe).then(|| (exe, text(cmdline), text(environ)))
}

/// Every file under `home` but the AWS CLI's token cache (where tokens belong), as text, each
/// with its path.
pub fn files_outside_the_token_cache(home: &Path) -> Vec<(String, String)> {
    let cache = home.join(".aws/sso/cache");
    let mut files = Vec::new();
    let mut stack = vec![home.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && path != cache {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                files.push((
                    path.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    files
}

/// Where each secret was found among `texts` (place, text), in its own spelling or
/// URL-encoded, with the text around it masked: one line per hit, for a failure message.
pub fn leaks(texts: &[(String, String)], secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for secret in secrets {
        let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for (place, text) in texts {
            if text.contains(secret.as_str()) || text.contains(&encoded) {
                found.push(format!(
                    "{}... in {place}: {}",
                    secret.get(..8).unwrap_or_default(),
                    around(text, secret, &encoded)
                ));
            }
        }
    }
    found
}

/// The text around the first hit, with the secret masked.
fn around(text: &str, secret: &str, encoded: &str) -> String {
    let at = text
        .find(secret)
        .or_else(|| text.find(encoded))
        .unwrap_or(0);
    let bytes = text.as_bytes();
    let end = (at + secret.len() + 40).min(bytes.len());
    String::from_utf8_lossy(&bytes[at.saturating_sub(120)..end])
        .replace(secret, "<SECRET>")
        .replace(encoded, "<SECRET>")
}
