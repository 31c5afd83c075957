//! Opening a URL in the person's browser: `$BROWSER` first (the Unix convention, which the
//! tests use too), then the platform's opener.

use crate::aws::endpoints::{UrlProblem, check_transport};
use crate::env::Env;
use crate::util::text::printable;
use std::process::{Command, Stdio};

/// The commands that would open a URL, in the order they are tried: each entry of the
/// colon-separated `$BROWSER` (`%s` stands for the URL, else it is appended), then the
/// platform opener when there is a desktop to open it on.
pub fn browser_commands(env: &Env) -> Vec<Vec<String>> {
    let mut commands: Vec<Vec<String>> = env
        .get("BROWSER")
        .map(|list| {
            list.split(':')
                .map(|entry| entry.split_whitespace().map(str::to_owned).collect())
                .filter(|words: &Vec<String>| !words.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(opener) = platform_opener(env) {
        commands.push(opener);
    }
    commands
}

/// True when some command could open a browser here (else sign-in falls back to the device
/// code, which works from SSH, WSL and headless machines).
pub fn can_open_browser(env: &Env) -> bool {
    !browser_commands(env).is_empty()
}

/// Checks that `url` may be handed to a browser: it passes the transport rule
/// ([`check_transport`]: `https://`, plain `http://` only on a loopback host), it cannot be
/// taken for an option (a leading `-`), and it holds no whitespace or control character (no
/// URL does; a terminal or a shell might make something of them). Matters for URLs that came
/// from the network, such as the device flow's verification page. The error is one line.
pub fn check_openable(url: &str) -> Result<(), String> {
    let why = if url.starts_with('-') {
        "it starts with '-', as an option would"
    } else if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it holds spaces or control characters"
    } else {
        match check_transport(url) {
            Ok(()) => return Ok(()),
            Err(UrlProblem::NotAUrl | UrlProblem::NoHost) => "it is not a URL",
            Err(UrlProblem::NotHttps) => {
                "it is not https:// (plain http is allowed only on a loopback address)"
            }
        }
    };
    Err(format!(
        "not opening {} in a browser: {why}",
        printable(url)
    ))
}

/// Opens `url` if [`check_openable`] allows it; returns the command used, or why nothing
/// opened it.
pub fn open_url(env: &Env, url: &str) -> Result<String, String> {
    check_openable(url)?;
    let commands = browser_commands(env);
    if commands.is_empty() {
        return Err("no browser here (no $BROWSER and no desktop session)".to_owned());
    }
    let mut failures = Vec::new();
    for words in commands {
        let mut args: Vec<String> = words.iter().map(|w| w.replace("%s", url)).collect();
        if !words.iter().any(|w| w.contains("%s")) {
            args.push(url.to_owned());
        }
        let program = args.remove(0);
        match Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(mut child) => {
                // Reap it whenever it ends, without making the sign-in wait for the browser.
                std::thread::spawn(move || child.wait());
                return Ok(program);
            }
            Err(e) => failures.push(format!("{program}: {e}")),
        }
    }
    Err(failures.join("; "))
}

#[cfg(target_os = "macos")]
fn platform_opener(_env: &Env) -> Option<Vec<String>> {
    Some(vec!["open".to_owned()])
}

#[cfg(windows)]
fn platform_opener(_env: &Env) -> Option<Vec<String>> {
    // `start` would split the URL at `&`; the URL handler takes it whole.
    Some(vec![
        "rundll32".to_owned(),
        "url.dll,FileProtocolHandler".to_owned(),
    ])
}

#[cfg(not(any(target_os = "macos", windows)))]
fn platform_opener(env: &Env) -> Option<Vec<String>> {
    let desktop = env.get("DISPLAY").is_some() || env.get("WAYLAND_DISPLAY").is_some();
    desktop.then(|| vec!["xdg-open".to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_variable_comes_first_and_splits_on_colons() {
        let env = Env::from_pairs([("BROWSER", "firefox --new-tab %s:w3m")]);
        let commands = browser_commands(&env);
        assert_eq!(commands[0], ["firefox", "--new-tab", "%s"]);
        assert_eq!(commands[1], ["w3m"]);
    }

    #[test]
    fn only_https_or_loopback_http_urls_are_opened() {
        for good in [
            "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH",
            "HTTPS://example.com",
            "http://127.0.0.1:4567/device?user_code=X",
            "http://localhost/device",
            "http://[::1]:80/device",
        ] {
            assert_eq!(check_openable(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("http://evil.example.com/device", "it is not https://"),
            ("http://127.0.0.1.evil.com/x", "it is not https://"),
            ("http://127.0.0.1@evil.com/x", "it is not https://"),
            ("file:///etc/passwd", "it is not a URL"),
            ("javascript:alert(1)", "it is not a URL"),
            ("ftp://example.com/x", "it is not https://"),
            ("--new-window=https://example.com", "it starts with '-'"),
            ("-https://example.com", "it starts with '-'"),
            ("https://example.com/\x1b[2J", "control characters"),
            ("https://example.com/ x", "spaces"),
            ("", "it is not a URL"),
        ] {
            let err = check_openable(bad).unwrap_err();
            assert!(err.starts_with("not opening "), "{err}");
            assert!(err.contains(why), "{bad}: {err}");
            assert!(!err.contains('\x1b') && !err.contains('\n'), "{err:?}");
        }
    }

    #[test]
    fn a_refused_url_reaches_no_browser() {
        let env = Env::from_pairs([("BROWSER", "/nonexistent/browser")]);
        let err = open_url(&env, "http://evil.example.com/").unwrap_err();
        assert!(
            err.starts_with("not opening http://evil.example.com/"),
            "{err}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn no_desktop_and_no_browser_means_no_browser() {
        assert!(!can_open_browser(&Env::default()));
        assert!(can_open_browser(&Env::from_pairs([("DISPLAY", ":0")])));
    }

    #[cfg(unix)]
    #[test]
    fn opens_with_the_url_in_place_of_percent_s() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("opened");
        let script = dir.path().join("browser.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$1\" > {}\n", out.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = Env::from_pairs([("BROWSER", format!("/nonexistent:{}", script.display()))]);
        open_url(&env, "http://127.0.0.1/x?a=1&b=2").unwrap();
        for _ in 0..100 {
            if let Ok(text) = std::fs::read_to_string(&out)
                && !text.is_empty()
            {
                assert_eq!(text.trim(), "http://127.0.0.1/x?a=1&b=2");
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the browser script never ran");
    }
}
