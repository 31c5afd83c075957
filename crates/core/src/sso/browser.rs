//! Handing a URL to the person: opened in the browser their settings name for the session
//! (`browser`, `firefox_container`), else `$BROWSER` (the Unix convention, which the tests
//! use too), else the platform's opener (on WSL, Windows' own); or only printed, or put on
//! the clipboard, as `url_action` says. No shell is involved anywhere.

use crate::context::Context;
use crate::env::Env;
use crate::settings::{BrowserSettings, UrlAction};
use crate::util::text::printable;
use crate::util::urls::check_url;
use crate::util::words::split_words;
use std::io::Write;
use std::process::{Command, Stdio};

/// What stands for the URL in a command template.
pub const URL_PLACEHOLDER: &str = "{url}";

/// The form a command is given the URL in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlForm {
    /// The URL as it is.
    AsIs,
    /// Wrapped in an `ext+container:` link for this Firefox container.
    FirefoxContainer(String),
    /// Escaped for `cmd.exe`, which reads `&`, `|`, `%` and the like itself.
    CmdEscaped,
}

/// One way to open a URL: a command's words, where [`URL_PLACEHOLDER`] stands for the URL in
/// the form `form` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opener {
    /// The program and its arguments.
    pub words: Vec<String>,
    /// How the URL is given to it.
    pub form: UrlForm,
}

impl Opener {
    fn new(words: Vec<String>, form: UrlForm) -> Option<Self> {
        (!words.is_empty() && !words[0].is_empty()).then_some(Self { words, form })
    }

    /// The program and arguments that open `url`: [`URL_PLACEHOLDER`] replaced inside
    /// every argument that holds it (so `--new-tab={url}` works), or the URL appended when
    /// none does; always one argument, whatever it holds.
    pub fn command_for(&self, url: &str) -> Vec<String> {
        let url = match &self.form {
            UrlForm::AsIs => url.to_owned(),
            UrlForm::FirefoxContainer(name) => firefox_container_url(name, url),
            UrlForm::CmdEscaped => cmd_escaped(url),
        };
        fill_template(&self.words, &url)
    }
}

/// `words` with [`URL_PLACEHOLDER`] replaced by `url` inside each argument, or `url`
/// appended when no argument holds the placeholder.
pub fn fill_template(words: &[String], url: &str) -> Vec<String> {
    let mut args: Vec<String> = words
        .iter()
        .map(|w| w.replace(URL_PLACEHOLDER, url))
        .collect();
    if !words.iter().any(|w| w.contains(URL_PLACEHOLDER)) {
        args.push(url.to_owned());
    }
    args
}

/// The link the "Open external links in a container" Firefox extension opens `url` with in
/// the container `name`: `ext+container:name=NAME&url=URL`, both encoded as JavaScript's
/// `encodeURIComponent` does, which is what the extension decodes.
pub fn firefox_container_url(name: &str, url: &str) -> String {
    format!(
        "ext+container:name={}&url={}",
        encode_uri_component(name),
        encode_uri_component(url)
    )
}

/// `encodeURIComponent`: every byte of the UTF-8 form percent-encoded except ASCII letters,
/// digits and `-_.!~*'()`.
fn encode_uri_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `url` as `cmd.exe /c start "" URL` must be given it to open the whole URL, run nothing
/// else and expand no variable (`%PATH%`, `%PATH:a=b%`, `!PATH!`):
/// - `!` becomes `%21`: with delayed expansion on, cmd.exe expands `!NAME!` after it has
///   dropped the carets, so no caret can stop it. `"`, `<` and `>` become `%22`, `%3C` and
///   `%3E`, as browsers send them anyway (a `"` would switch cmd.exe's quoting on, where
///   carets count for nothing).
/// - Every `^ & | ( ) %` gets a caret, and so does the character after each `%`: cmd.exe
///   expands `%NAME%` before it reads carets, so a caret in front of `%` does not stop it,
///   but then every name it looks up starts with `^` (no variable of Windows' own does),
///   and on a command line (not in a batch file) a name that is no variable is left as it is. The carets go when cmd.exe
///   reads the line, so the browser gets the URL's own `%` escapes unchanged (a `%` made
///   `%25` would turn `%20` into `%2520`, and a console sign-in token into another).
pub fn cmd_escaped(url: &str) -> String {
    let mut out = String::with_capacity(url.len() * 2);
    let mut after_percent = false;
    for c in url.chars() {
        let encoded = match c {
            '!' => "%21",
            '"' => "%22",
            '<' => "%3C",
            '>' => "%3E",
            _ => "",
        };
        let mut push = |c: char| {
            if after_percent || "^&|()%".contains(c) {
                out.push('^');
            }
            out.push(c);
            after_percent = c == '%';
        };
        if encoded.is_empty() {
            push(c);
        } else {
            encoded.chars().for_each(push);
        }
    }
    out
}

/// True when this Linux runs under WSL: `WSL_DISTRO_NAME` is set (WSL sets it in every
/// shell), or the kernel's release (`/proc/sys/kernel/osrelease`, given as text) names
/// Microsoft's kernel (`5.15.153.1-microsoft-standard-WSL2`, `4.4.0-19041-Microsoft`).
pub fn is_wsl(kernel_release: Option<&str>, distro_name: Option<&str>) -> bool {
    distro_name.is_some_and(|name| !name.trim().is_empty())
        || kernel_release.is_some_and(|text| {
            let text = text.to_ascii_lowercase();
            text.contains("microsoft") || text.contains("wsl")
        })
}

/// True when `ctx` runs under WSL (see [`is_wsl`]); reads the kernel's release file.
pub fn running_on_wsl(ctx: &Context) -> bool {
    cfg!(target_os = "linux")
        && is_wsl(
            std::fs::read_to_string(&ctx.paths.kernel_release)
                .ok()
                .as_deref(),
            ctx.env.get("WSL_DISTRO_NAME"),
        )
}

/// The ways to open a URL, in the order they are tried: the settings' `browser` template
/// (given an `ext+container:` link when `firefox_container` is set, by `firefox` when no
/// template is), then each entry of the colon-separated `$BROWSER` (`%s` stands for the URL,
/// else it is appended), then the platform's opener: on WSL `wslview`, `explorer.exe`, then
/// `cmd.exe /c start "" URL`; elsewhere the desktop's opener when there is a desktop.
pub fn openers(browser: &BrowserSettings, env: &Env, wsl: bool) -> Vec<Opener> {
    let mut openers = Vec::new();
    let template = browser
        .browser
        .as_deref()
        // The settings refuse a template that does not split, so this drops nothing they kept.
        .and_then(|t| split_words(t).ok());
    match (template, &browser.firefox_container) {
        (Some(words), Some(name)) => {
            openers.extend(Opener::new(words, UrlForm::FirefoxContainer(name.clone())));
        }
        (Some(words), None) => openers.extend(Opener::new(words, UrlForm::AsIs)),
        (None, Some(name)) => openers.extend(Opener::new(
            vec!["firefox".to_owned()],
            UrlForm::FirefoxContainer(name.clone()),
        )),
        (None, None) => {}
    }
    if let Some(list) = env.get("BROWSER") {
        for entry in list.split(':') {
            let words = entry
                .split_whitespace()
                .map(|w| w.replace("%s", URL_PLACEHOLDER))
                .collect();
            openers.extend(Opener::new(words, UrlForm::AsIs));
        }
    }
    if wsl {
        openers.extend(wsl_openers());
    } else {
        openers.extend(platform_opener(env).and_then(|words| Opener::new(words, UrlForm::AsIs)));
    }
    openers
}

/// Windows' own ways to open a URL from WSL, in order: `wslview` (wslu), `explorer.exe`,
/// then `cmd.exe /c start "" URL` (the empty title keeps `start` from taking the URL for one).
fn wsl_openers() -> Vec<Opener> {
    let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect();
    vec![
        Opener {
            words: words(&["wslview"]),
            form: UrlForm::AsIs,
        },
        Opener {
            words: words(&["explorer.exe"]),
            form: UrlForm::AsIs,
        },
        Opener {
            words: words(&["cmd.exe", "/c", "start", "", URL_PLACEHOLDER]),
            form: UrlForm::CmdEscaped,
        },
    ]
}

/// The commands that put text on the clipboard, in the order they are tried, each reading
/// the text on its standard input.
pub fn clipboard_commands(env: &Env, wsl: bool) -> Vec<Vec<String>> {
    let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    let mut commands = Vec::new();
    if wsl {
        commands.push(words(&["clip.exe"]));
    }
    if cfg!(target_os = "macos") {
        commands.push(words(&["pbcopy"]));
    } else if cfg!(windows) {
        commands.push(words(&["clip"]));
    } else {
        if env.get("WAYLAND_DISPLAY").is_some() {
            commands.push(words(&["wl-copy"]));
        }
        if env.get("DISPLAY").is_some() {
            commands.push(words(&["xclip", "-selection", "clipboard"]));
            commands.push(words(&["xsel", "--clipboard", "--input"]));
        }
    }
    commands
}

/// True when some command could open a browser for `session` here (else sign-in falls back
/// to the device code, which works from SSH and headless machines).
pub fn can_open_browser(ctx: &Context, session: Option<&str>) -> bool {
    !openers(
        &ctx.settings.browser_for(session),
        &ctx.env,
        running_on_wsl(ctx),
    )
    .is_empty()
}

/// What was done with a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// A browser was started with it; the program's name.
    Opened(String),
    /// Nothing was opened (`url_action = "print"`): the caller shows it.
    Printed,
    /// It is on the clipboard; the program that put it there.
    Copied(String),
}

/// Checks that `url` may be handed to a browser: it passes the rule for URLs
/// ([`check_url`]: read as browsers read it, `https://`, plain `http://` only on a loopback
/// host, written as it is read, no `user@`, and no whitespace, control character or leading
/// `-` that a terminal, a shell or a program's options might act on). Matters for URLs that
/// came from the network, such as the device flow's verification page. The error is one line.
pub fn check_openable(url: &str) -> Result<(), String> {
    check_url(url)
        .map(drop)
        .map_err(|why| format!("not opening {} in a browser: {why}", printable(url)))
}

/// Does with `url` what the settings say for `session` (a sso-session's name; `None` for a
/// legacy session or none): opens it, leaves it to be printed, or copies it, if
/// [`check_openable`] allows it. The error says why nothing happened, never quoting the URL
/// (a console login URL is a secret).
pub fn open_url(ctx: &Context, session: Option<&str>, url: &str) -> Result<Delivered, String> {
    check_openable(url)?;
    let browser = ctx.settings.browser_for(session);
    let wsl = running_on_wsl(ctx);
    match browser.url_action.unwrap_or_default() {
        UrlAction::Print => Ok(Delivered::Printed),
        UrlAction::Copy => copy_to_clipboard(&ctx.env, wsl, url).map(Delivered::Copied),
        UrlAction::Open => {
            start_opener(&ctx.env, &openers(&browser, &ctx.env, wsl), url).map(Delivered::Opened)
        }
    }
}

/// Puts `text` on the clipboard with the first of [`clipboard_commands`] that takes it;
/// returns that program's name.
fn copy_to_clipboard(env: &Env, wsl: bool, text: &str) -> Result<String, String> {
    let commands = clipboard_commands(env, wsl);
    if commands.is_empty() {
        return Err("no clipboard here (no desktop session)".to_owned());
    }
    let mut failures = Vec::new();
    for words in commands {
        let Some((program, args)) = words.split_first() else {
            continue;
        };
        let copied = command_in(env, program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .and_then(|mut child| {
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(text.as_bytes())?;
                }
                // The clipboard tools that keep serving the selection fork and let this one end.
                child.wait()
            });
        match copied {
            Ok(status) if status.success() => return Ok(program.clone()),
            Ok(status) => failures.push(format!("{program}: {status}")),
            Err(e) => failures.push(format!("{program}: {e}")),
        }
    }
    Err(failures.join("; "))
}

/// A command for `program`, looked up on the `PATH` of `env`, the environment the operation
/// was given, rather than on the process's.
fn command_in(env: &Env, program: &str) -> Command {
    let mut command = Command::new(program);
    if let Some(path) = env.get("PATH") {
        command.env("PATH", path);
    }
    command
}

/// Starts the first of `openers` that can be started with `url`; returns its program.
fn start_opener(env: &Env, openers: &[Opener], url: &str) -> Result<String, String> {
    if openers.is_empty() {
        return Err(
            "no browser here (no browser setting, no $BROWSER and no desktop session)".to_owned(),
        );
    }
    let mut failures = Vec::new();
    for opener in openers {
        let command = opener.command_for(url);
        let Some((program, args)) = command.split_first() else {
            continue;
        };
        match command_in(env, program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(mut child) => {
                // Reap it whenever it ends, without making the sign-in wait for the browser.
                std::thread::spawn(move || child.wait());
                return Ok(program.clone());
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

    /// A context in an empty HOME with these variables, and the kernel release file
    /// pointing at a fixture with `kernel_release` in it.
    fn context(vars: &[(&str, &str)], kernel_release: &str) -> (tempfile::TempDir, Context) {
        let home = tempfile::tempdir().unwrap();
        let mut env = Env::from_pairs(vars.iter().copied());
        env.set("HOME", home.path().display().to_string());
        let mut ctx = Context::from_env(env).unwrap();
        ctx.paths.kernel_release = home.path().join("osrelease");
        std::fs::write(&ctx.paths.kernel_release, kernel_release).unwrap();
        (home, ctx)
    }

    const LINUX: &str = "6.8.0-45-generic\n";
    const WSL2: &str = "5.15.153.1-microsoft-standard-WSL2\n";

    fn words(opener: &Opener) -> Vec<&str> {
        opener.words.iter().map(String::as_str).collect()
    }

    fn template(browser: &str) -> BrowserSettings {
        BrowserSettings {
            browser: Some(browser.to_owned()),
            ..BrowserSettings::default()
        }
    }

    #[test]
    fn wsl_is_told_by_the_kernel_release_or_the_distro_variable() {
        assert!(is_wsl(Some(WSL2), None));
        assert!(is_wsl(Some("4.4.0-19041-Microsoft\n"), None));
        assert!(is_wsl(None, Some("Debian")));
        assert!(is_wsl(Some(LINUX), Some("Ubuntu-22.04")));
        assert!(!is_wsl(Some(LINUX), None));
        assert!(!is_wsl(Some(LINUX), Some("")));
        assert!(!is_wsl(None, None));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_release_file_is_what_running_on_wsl_reads() {
        assert!(running_on_wsl(&context(&[], WSL2).1));
        assert!(!running_on_wsl(&context(&[], LINUX).1));
        assert!(running_on_wsl(
            &context(&[("WSL_DISTRO_NAME", "Debian")], LINUX).1
        ));
    }

    #[test]
    fn the_setting_comes_before_browser_variable_before_the_platform() {
        let env = Env::from_pairs([("BROWSER", "w3m --new-tab %s:lynx"), ("DISPLAY", ":0")]);
        let found = openers(&template("firefox -P work {url}"), &env, false);
        assert_eq!(words(&found[0]), ["firefox", "-P", "work", "{url}"]);
        assert_eq!(words(&found[1]), ["w3m", "--new-tab", "{url}"]);
        assert_eq!(words(&found[2]), ["lynx"]);
        #[cfg(target_os = "linux")]
        assert_eq!(words(&found[3]), ["xdg-open"]);
        assert!(found.iter().all(|o| o.form == UrlForm::AsIs));
        #[cfg(target_os = "linux")]
        assert!(openers(&BrowserSettings::default(), &Env::default(), false).is_empty());
    }

    #[test]
    fn on_wsl_windows_openers_follow_in_order_and_cmd_gets_an_escaped_url() {
        let env = Env::from_pairs([("DISPLAY", ":0")]);
        let openers = openers(&BrowserSettings::default(), &env, true);
        let all: Vec<Vec<&str>> = openers.iter().map(words).collect();
        assert_eq!(
            all,
            [
                vec!["wslview"],
                vec!["explorer.exe"],
                vec!["cmd.exe", "/c", "start", "", "{url}"]
            ]
        );
        assert_eq!(
            openers[2].command_for("https://x/?a=1&b=%20"),
            ["cmd.exe", "/c", "start", "", "https://x/?a=1^&b=^%^20"]
        );
        assert_eq!(
            openers[0].command_for("https://x/?a=1&b=2"),
            ["wslview", "https://x/?a=1&b=2"]
        );
    }

    #[test]
    fn cmd_metacharacters_are_escaped_with_a_caret() {
        assert_eq!(
            cmd_escaped(r#"https://h/p?a=1&b=2|3<4>5^6%7(8)"9"#),
            "https://h/p?a=1^&b=2^|3^%^3C4^%^3E5^^6^%^7^(8^)^%^229"
        );
        assert_eq!(cmd_escaped("https://plain/x"), "https://plain/x");
    }

    #[test]
    fn cmd_expands_no_variable_in_a_url() {
        let cmd = |url| wsl_openers()[2].command_for(url);
        // Substitution and substring forms: a caret before the `%` would not stop them.
        assert_eq!(
            cmd("https://x/?a=%PATH:a=b%&c=%PATH:~0,3%"),
            [
                "cmd.exe",
                "/c",
                "start",
                "",
                "https://x/?a=^%^PATH:a=b^%^&c=^%^PATH:~0,3^%"
            ]
        );
        // Delayed expansion: no `!` reaches cmd.exe at all.
        assert_eq!(
            cmd("https://x/!PATH!?v=!USERNAME:a=b!"),
            [
                "cmd.exe",
                "/c",
                "start",
                "",
                "https://x/^%^21PATH^%^21?v=^%^21USERNAME:a=b^%^21"
            ]
        );
        assert_eq!(cmd_escaped("https://x/%"), "https://x/^%");
        // What cmd.exe makes of a line once it has looked for variables: `^X` is `X`.
        let carets_dropped = |line: &str| {
            let mut out = String::new();
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                out.extend(if c == '^' { chars.next() } else { Some(c) });
            }
            out
        };
        for (url, browser_gets) in [
            // The URL's own escapes reach the browser as they are.
            (
                "https://signin.example/federation?Destination=https%3A%2F%2Fx&SigninToken=a%2Bb%25",
                "https://signin.example/federation?Destination=https%3A%2F%2Fx&SigninToken=a%2Bb%25",
            ),
            ("https://x/?q=%PATH%^%%", "https://x/?q=%PATH%^%%"),
            ("https://x/!A!\"<b>", "https://x/%21A%21%22%3Cb%3E"),
        ] {
            let line = cmd_escaped(url);
            assert_eq!(carets_dropped(&line), browser_gets, "{url}");
            // Every variable name cmd.exe could look up starts with a caret.
            let mut after_percent = line.split('%').skip(1);
            assert!(
                after_percent.all(|next| next.is_empty() || next.starts_with('^')),
                "{line}"
            );
            assert!(!line.contains('!') && !line.contains('"'), "{line}");
        }
    }

    #[test]
    fn the_url_replaces_the_placeholder_inside_its_argument_or_is_appended() {
        let w = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            fill_template(&w(&["firefox", "--new-tab={url}"]), "https://x/?a b"),
            ["firefox", "--new-tab=https://x/?a b"]
        );
        assert_eq!(
            fill_template(&w(&["open", "-a", "Firefox"]), "https://x/"),
            ["open", "-a", "Firefox", "https://x/"]
        );
        // A URL that holds the placeholder's text is not expanded again.
        assert_eq!(
            fill_template(&w(&["b", "{url}"]), "https://x/{url}"),
            ["b", "https://x/{url}"]
        );
    }

    #[test]
    fn a_firefox_container_link_is_encoded_as_encode_uri_component_does() {
        assert_eq!(
            firefox_container_url("Work Stuff", "https://x.awsapps.com/start/#/?a=1&b=é~'()!*"),
            "ext+container:name=Work%20Stuff&url=https%3A%2F%2Fx.awsapps.com%2Fstart%2F%23%2F%3Fa%3D1%26b%3D%C3%A9~'()!*"
        );
    }

    #[test]
    fn a_container_opens_with_the_template_or_else_firefox() {
        let container = BrowserSettings {
            firefox_container: Some("Work".to_owned()),
            ..BrowserSettings::default()
        };
        let env = Env::from_pairs([("BROWSER", "chromium")]);
        let plain = openers(&container, &env, false);
        assert_eq!(words(&plain[0]), ["firefox"]);
        assert_eq!(
            plain[0].command_for("https://x/"),
            ["firefox", "ext+container:name=Work&url=https%3A%2F%2Fx%2F"]
        );
        assert_eq!(
            plain[1].command_for("https://x/"),
            ["chromium", "https://x/"],
            "a browser that is not the container's gets the plain URL"
        );
        let with_template = BrowserSettings {
            browser: Some("firefox-esr -P work".to_owned()),
            ..container
        };
        assert_eq!(
            openers(&with_template, &env, false)[0].command_for("https://x/"),
            [
                "firefox-esr",
                "-P",
                "work",
                "ext+container:name=Work&url=https%3A%2F%2Fx%2F"
            ]
        );
    }

    #[test]
    fn clipboard_commands_follow_the_platform() {
        #[cfg(target_os = "linux")]
        {
            let both = Env::from_pairs([("WAYLAND_DISPLAY", "wayland-0"), ("DISPLAY", ":0")]);
            assert_eq!(
                clipboard_commands(&both, false),
                [
                    vec!["wl-copy"],
                    vec!["xclip", "-selection", "clipboard"],
                    vec!["xsel", "--clipboard", "--input"]
                ]
            );
            assert!(clipboard_commands(&Env::default(), false).is_empty());
            assert_eq!(
                clipboard_commands(&Env::default(), true),
                [vec!["clip.exe"]]
            );
        }
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
            (
                "http://127.0.0.1@evil.com/x",
                "it names a user before the host",
            ),
            (r"http://evil\@127.0.0.1/", "it holds a backslash"),
            (
                "https://corp.awsapps.com@evil.com/",
                "it names a user before the host",
            ),
            (
                "http://0x7f.1/device",
                "it is not written as browsers read it",
            ),
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
        let (_home, ctx) = context(&[("BROWSER", "/nonexistent/browser")], LINUX);
        let err = open_url(&ctx, None, "http://evil.example.com/").unwrap_err();
        assert!(
            err.starts_with("not opening http://evil.example.com/"),
            "{err}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn no_desktop_and_no_browser_means_no_browser() {
        assert!(!can_open_browser(&context(&[], LINUX).1, None));
        assert!(can_open_browser(
            &context(&[("DISPLAY", ":0")], LINUX).1,
            None
        ));
        assert!(can_open_browser(&context(&[], WSL2).1, None));
        let (home, mut ctx) = context(&[], LINUX);
        ctx.settings
            .sessions
            .insert("corp".to_owned(), template("firefox"));
        assert!(can_open_browser(&ctx, Some("corp")));
        assert!(!can_open_browser(&ctx, Some("other")));
        drop(home);
    }

    #[cfg(unix)]
    fn logging_script(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let out = dir.join("opened");
        let script = dir.join("browser.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done > {}.tmp\n/bin/mv {0}.tmp {0}\n",
                out.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        (script, out)
    }

    #[cfg(unix)]
    fn wait_for_file(path: &std::path::Path) -> String {
        for _ in 0..250 {
            if let Ok(text) = std::fs::read_to_string(path) {
                return text;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the browser script never ran");
    }

    #[cfg(unix)]
    #[test]
    fn opens_with_the_url_in_place_of_percent_s() {
        let (_home, ctx) = context(&[], LINUX);
        let (script, out) = logging_script(_home.path());
        let mut ctx = ctx;
        ctx.env.set(
            "BROWSER",
            format!("/nonexistent:{} --new %s", script.display()),
        );
        let done = open_url(&ctx, None, "http://127.0.0.1/x?a=1&b=2").unwrap();
        assert_eq!(done, Delivered::Opened(script.display().to_string()));
        assert_eq!(wait_for_file(&out), "[--new][http://127.0.0.1/x?a=1&b=2]");
    }

    #[cfg(unix)]
    #[test]
    fn a_session_template_with_quotes_gives_separate_arguments() {
        let (home, mut ctx) = context(&[], LINUX);
        let (script, out) = logging_script(home.path());
        ctx.settings.sessions.insert(
            "corp".to_owned(),
            template(&format!(
                r#"{} --profile-directory="Profile 2" 'a b' --tab={{url}}"#,
                script.display()
            )),
        );
        open_url(&ctx, Some("corp"), "https://x/?a=1&b=2").unwrap();
        assert_eq!(
            wait_for_file(&out),
            "[--profile-directory=Profile 2][a b][--tab=https://x/?a=1&b=2]"
        );
    }

    #[test]
    fn print_opens_nothing() {
        let (_home, mut ctx) = context(&[("BROWSER", "/nonexistent/browser")], LINUX);
        ctx.settings.browser.url_action = Some(UrlAction::Print);
        assert_eq!(open_url(&ctx, None, "https://x/"), Ok(Delivered::Printed));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn copy_hands_the_url_to_the_clipboard_command_on_its_input() {
        let (home, mut ctx) = context(&[], WSL2);
        let bin = home.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let out = home.path().join("clipboard");
        let script = bin.join("clip.exe");
        std::fs::write(
            &script,
            format!("#!/bin/sh\n/bin/cat > {}\n", out.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        ctx.env.set("PATH", bin.display().to_string());
        ctx.settings.browser.url_action = Some(UrlAction::Copy);
        assert_eq!(
            open_url(&ctx, None, "https://x/?a=1&b=2"),
            Ok(Delivered::Copied("clip.exe".to_owned()))
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "https://x/?a=1&b=2");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn on_wsl_the_first_windows_opener_found_is_used() {
        let (home, mut ctx) = context(&[], WSL2);
        let bin = home.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let (script, out) = logging_script(home.path());
        std::fs::copy(&script, bin.join("cmd.exe")).unwrap();
        ctx.env.set("PATH", bin.display().to_string());
        assert_eq!(
            open_url(&ctx, None, "https://x/?a=1&b=2"),
            Ok(Delivered::Opened("cmd.exe".to_owned()))
        );
        assert_eq!(wait_for_file(&out), "[/c][start][][https://x/?a=1^&b=2]");
        std::fs::remove_file(&out).unwrap();
        std::fs::copy(&script, bin.join("explorer.exe")).unwrap();
        assert_eq!(
            open_url(&ctx, None, "https://x/?a=1&b=2"),
            Ok(Delivered::Opened("explorer.exe".to_owned()))
        );
        assert_eq!(wait_for_file(&out), "[https://x/?a=1&b=2]");
    }
}
