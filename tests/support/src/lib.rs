//! Shared harness for ssobar's end-to-end tests.
//!
//! A [`Sandbox`] is a throwaway HOME: the AWS files, ssobar's folders and every command run in
//! it see only that HOME and a cleaned environment, so nothing of the machine's own AWS setup
//! can leak into a test or be touched by one. A [`World`] adds ssobar-fake-aws and a scripted
//! browser to it.

pub mod root;
pub mod sshd;
pub mod sweep;
pub mod webdriver;

use sha1::{Digest, Sha1};
use ssobar_fake_aws::{FakeAws, FakeConfig, IssuedSession, Operation};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// Variables a child keeps from the test's environment; everything else is cleared.
const PASSED_THROUGH: &[&str] = &[
    "PATH",
    "DBUS_SESSION_BUS_ADDRESS",
    "DISPLAY",
    "XAUTHORITY",
    "LANG",
    "TZ",
    "RUST_BACKTRACE",
    "NO_AT_BRIDGE",
];

/// A throwaway HOME.
pub struct Sandbox {
    home: tempfile::TempDir,
    extra_env: Vec<(String, String)>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// An empty HOME (no `~/.aws` at all).
    pub fn new() -> Self {
        let home = tempfile::Builder::new()
            .prefix("ssobar-test-home.")
            .tempdir()
            .expect("create a temporary HOME");
        // Programs (Mesa, fontconfig) expect the cache folder to exist and complain otherwise.
        std::fs::create_dir_all(home.path().join(".cache")).expect("create ~/.cache");
        Self {
            home,
            extra_env: Vec::new(),
        }
    }

    /// The HOME folder.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `~/.aws/sso/cache`.
    pub fn cache_dir(&self) -> PathBuf {
        self.home().join(".aws/sso/cache")
    }

    /// Writes `~/.aws/config` (an [`AwsConfig`], or text as it is).
    pub fn write_config(&self, text: impl AsRef<str>) {
        let dir = self.home().join(".aws");
        std::fs::create_dir_all(&dir).expect("create ~/.aws");
        std::fs::write(dir.join("config"), text.as_ref()).expect("write ~/.aws/config");
    }

    /// The token file of a session (or legacy start URL), named as the AWS CLI names it.
    pub fn token_path(&self, session_or_start_url: &str) -> PathBuf {
        self.cache_dir()
            .join(format!("{}.json", sha1_hex(session_or_start_url)))
    }

    /// Writes a token file with exactly these bytes.
    pub fn write_token_bytes(&self, session_or_start_url: &str, bytes: &[u8]) {
        std::fs::create_dir_all(self.cache_dir()).expect("create the cache folder");
        std::fs::write(self.token_path(session_or_start_url), bytes).expect("write a token");
    }

    /// Writes a token file as JSON.
    pub fn write_token(&self, session_or_start_url: &str, token: &serde_json::Value) {
        self.write_token_bytes(session_or_start_url, token.to_string().as_bytes());
    }

    /// Adds a variable to every command's environment (e.g. the fake's endpoints).
    pub fn set_env(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.extra_env.push((key.into(), value.into()));
    }

    /// A command that runs in this HOME with a cleaned environment.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear();
        for key in PASSED_THROUGH {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        let home = self.home();
        cmd.env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_RUNTIME_DIR", home.join(".run"))
            .env("NO_COLOR", "1")
            .current_dir(home);
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }
}

/// Hex SHA-1, computed here independently of ssobar-core so tests check core's naming.
pub fn sha1_hex(text: &str) -> String {
    hex::encode(Sha1::digest(text.as_bytes()))
}

/// What a finished command printed, with assertions that show both streams on failure.
pub struct Ran {
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Ran {
    /// Runs `cmd` to completion.
    pub fn run(cmd: &mut Command) -> Self {
        Self::from_output(
            cmd.output()
                .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
        )
    }

    /// Waits for a spawned `child` to finish; what it printed is there only if its streams
    /// were piped.
    pub fn wait(child: Child) -> Self {
        let pid = child.id();
        Self::from_output(
            child
                .wait_with_output()
                .unwrap_or_else(|e| panic!("cannot wait for process {pid}: {e}")),
        )
    }

    fn from_output(
        Output {
            status,
            stdout,
            stderr,
        }: Output,
    ) -> Self {
        Self {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Panics unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless the command succeeded.
    pub fn success(self) -> Self {
        self.expect_code(0)
    }

    /// Standard output parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// How the scripted browser behaves when ssobar opens a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserMode {
    /// Follow every redirect, as a person's browser does after they approve: for PKCE this
    /// lands on ssobar's loopback callback, for the device flow it opens the approval page.
    Follow,
    /// Take the redirect from `/authorize` but forge its `state` before following it.
    ForgeState,
    /// Record the URL and do nothing (the person never comes back).
    Ignore,
}

/// A `$BROWSER` script that records each URL it is given and acts as [`BrowserMode`] says.
pub struct ScriptedBrowser {
    script: PathBuf,
    log: PathBuf,
}

impl ScriptedBrowser {
    /// Writes the script into `dir` (it uses `curl`, as a stand-in for a browser).
    pub fn new(dir: &Path, mode: BrowserMode) -> Self {
        let script = dir.join("browser.sh");
        let log = dir.join("browser.log");
        let act = match mode {
            BrowserMode::Follow => r#"curl -fsS -L -o /dev/null "$1""#,
            BrowserMode::ForgeState => {
                r#"loc=$(curl -fsS -o /dev/null -w '%{redirect_url}' "$1")
curl -sS -o /dev/null "$(printf '%s' "$loc" | sed 's/state=[^&]*/state=forged/')""#
            }
            BrowserMode::Ignore => ":",
        };
        let text = format!(
            "#!/bin/sh
printf '%s\n' \"$1\" >> '{}'
{act}
",
            log.display()
        );
        std::fs::write(&script, text).expect("write the browser script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .expect("make the browser script executable");
        }
        Self { script, log }
    }

    /// The value for `$BROWSER`.
    pub fn command(&self) -> String {
        self.script.display().to_string()
    }

    /// Every URL opened so far.
    pub fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .map(|text| text.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// An AWS config file, written section by section, so that the suites spell a session or a
/// profile one way. Sections are separated by a blank line, as the AWS CLI writes them.
#[derive(Clone, Debug, Default)]
pub struct AwsConfig {
    text: String,
}

impl AwsConfig {
    /// An empty config.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `[header]` (`default`, `profile NAME`, `sso-session NAME`) with these properties.
    pub fn section(mut self, header: &str, properties: &[(&str, &str)]) -> Self {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(&format!("[{header}]\n"));
        for (key, value) in properties {
            self = self.with(key, value);
        }
        self
    }

    /// Adds `key = value` to the last section.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.text.push_str(&format!("{key} = {value}\n"));
        self
    }

    /// Adds `[sso-session NAME]` with its start URL and `sso_region`.
    pub fn sso_session(self, name: &str, start_url: &str, sso_region: &str) -> Self {
        self.section(
            &format!("sso-session {name}"),
            &[("sso_start_url", start_url), ("sso_region", sso_region)],
        )
    }

    /// Adds `[profile NAME]` for `role` in `account` through the sso-session `session`.
    pub fn sso_profile(self, name: &str, session: &str, account: &str, role: &str) -> Self {
        self.section(
            &format!("profile {name}"),
            &[
                ("sso_session", session),
                ("sso_account_id", account),
                ("sso_role_name", role),
            ],
        )
    }

    /// Adds lines as they are (they must end with a newline): what no section spells, such as
    /// lines the parser must reject.
    pub fn raw(mut self, lines: &str) -> Self {
        self.text.push_str(lines);
        self
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for AwsConfig {
    fn as_ref(&self) -> &str {
        self.text()
    }
}

/// A sandbox whose AWS config points at a running ssobar-fake-aws, with a scripted browser.
///
/// The config has an `[sso-session]` named [`World::session`] (unique per world, so parallel
/// tests never share a keychain entry) with `sso:account:access`, and these profiles:
/// `dev` (ReadOnlyAccess in 111122223333, region eu-west-1), `admin` (AdministratorAccess in
/// the same account), `legacy` (a legacy profile on `{url}/legacy`), `deploy` (a role chain on
/// `dev`) and `deeper` (a role chain on `deploy`).
pub struct World {
    /// The fake AWS.
    pub fake: FakeAws,
    /// The throwaway HOME, with the fake's endpoints in every command's environment.
    pub sandbox: Sandbox,
    /// The `$BROWSER`.
    pub browser: ScriptedBrowser,
    /// The sso-session's name.
    pub session: String,
    ssobar: PathBuf,
}

impl World {
    /// Starts the fake with `config` and writes the config above; `ssobar` is the binary
    /// under test (`env!("CARGO_BIN_EXE_ssobar")`).
    pub fn start(ssobar: &str, config: FakeConfig, mode: BrowserMode) -> Self {
        let fake = FakeAws::start(config).expect("start the fake");
        let mut sandbox = Sandbox::new();
        for (k, v) in fake.endpoint_env() {
            sandbox.set_env(k, v);
        }
        let browser = ScriptedBrowser::new(sandbox.home(), mode);
        sandbox.set_env("BROWSER", browser.command());
        let session = format!("corp{}", fake.port());
        sandbox.write_config(world_config(&session, fake.url(), "us-east-1"));
        Self {
            fake,
            sandbox,
            browser,
            session,
            ssobar: PathBuf::from(ssobar),
        }
    }

    /// The config [`World::start`] wrote, to add sections to and write again.
    pub fn config(&self) -> AwsConfig {
        self.config_with_sso_region("us-east-1")
    }

    /// [`World::config`] with the sso-session's identity center in another region.
    pub fn config_with_sso_region(&self, sso_region: &str) -> AwsConfig {
        world_config(&self.session, self.fake.url(), sso_region)
    }

    /// Runs ssobar to completion.
    pub fn ssobar(&self, args: &[&str]) -> Ran {
        Ran::run(self.sandbox.command(&self.ssobar).args(args))
    }

    /// Starts ssobar with piped output.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.sandbox
            .command(&self.ssobar)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start ssobar")
    }

    /// A world whose session is already signed in for eight hours (see [`World::seed_sign_in`]),
    /// with a browser that is never followed. Fails the test unless a Secret Service is there
    /// ([`require_secret_service`]), since credentials are kept in it.
    pub fn signed_in(ssobar: &str, config: FakeConfig) -> Self {
        require_secret_service();
        let w = Self::start(ssobar, config, BrowserMode::Ignore);
        w.seed_sign_in(8 * 3600);
        w
    }

    /// A command for `ssobar` in the sandbox (to add arguments or variables).
    pub fn command(&self) -> Command {
        self.sandbox.command(&self.ssobar)
    }

    /// Signs the session in without a browser, as if `aws sso login` had run: the fake issues a
    /// token valid for `lifetime_seconds` (negative: already expired) and it is written to the
    /// cache the way the AWS CLI writes it.
    pub fn seed_sign_in(&self, lifetime_seconds: i64) -> IssuedSession {
        self.seed_sign_in_with(lifetime_seconds, &["sso:account:access"])
    }

    /// [`World::seed_sign_in`] with other scopes: with none, the token has no refresh token
    /// and only a new sign-in can renew it.
    pub fn seed_sign_in_with(&self, lifetime_seconds: i64, scopes: &[&str]) -> IssuedSession {
        let issued = self.fake.issue_session(
            &format!("{}/start", self.fake.url()),
            scopes,
            lifetime_seconds,
            90 * 86_400,
        );
        let mut token = serde_json::json!({
            "startUrl": issued.start_url,
            "region": issued.region,
            "accessToken": issued.access_token,
            "expiresAt": issued.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "clientId": issued.client_id,
            "clientSecret": issued.client_secret,
            "registrationExpiresAt": issued.registration_expires_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        });
        if let Some(refresh) = &issued.refresh_token {
            token["refreshToken"] = serde_json::json!(refresh);
        }
        self.sandbox.write_token(&self.session, &token);
        issued
    }

    /// The session's token file, parsed; `None` when there is none.
    pub fn token(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.sandbox.token_path(&self.session)).ok()?;
        Some(serde_json::from_str(&text).expect("the token file is JSON"))
    }

    /// How many times the fake served `op`.
    pub fn calls(&self, op: Operation) -> usize {
        self.fake.calls(op)
    }

    /// Runs `ssobar kubeconfig` for profile `dev` and the cluster `server` stands for, with
    /// its URL and CA, and returns the kubeconfig written (`~/.kube/config`).
    pub fn kubeconfig_for(&self, server: &KubeApiServer) -> PathBuf {
        self.ssobar(&[
            "kubeconfig",
            "--profile",
            "dev",
            "--cluster-id",
            &server.cluster_id,
            "--server",
            &server.url,
            "--certificate-authority",
            &server.ca_file.display().to_string(),
        ])
        .success();
        self.sandbox.home().join(".kube/config")
    }
}

/// The config of a [`World`] whose fake listens at `url`: see [`World`] for its sections.
fn world_config(session: &str, url: &str, sso_region: &str) -> AwsConfig {
    let dev = "111122223333";
    AwsConfig::new()
        .sso_session(session, &format!("{url}/start"), sso_region)
        .with("sso_registration_scopes", "sso:account:access")
        .sso_profile("dev", session, dev, "ReadOnlyAccess")
        .with("region", "eu-west-1")
        .sso_profile("admin", session, dev, "AdministratorAccess")
        .section(
            "profile legacy",
            &[
                ("sso_start_url", &format!("{url}/legacy")),
                ("sso_region", "us-east-1"),
                ("sso_account_id", dev),
                ("sso_role_name", "ReadOnlyAccess"),
            ],
        )
        .section(
            "profile deploy",
            &[
                ("role_arn", "arn:aws:iam::444455556666:role/Deploy"),
                ("source_profile", "dev"),
            ],
        )
        .section(
            "profile deeper",
            &[
                ("role_arn", "arn:aws:iam::444455556666:role/Deeper"),
                ("source_profile", "deploy"),
            ],
        )
}

/// Fails the test unless a D-Bus session with a Secret Service is there (scripts/test starts
/// one with gnome-keyring): keychain tests must not pass against nothing.
pub fn require_secret_service() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run the tests with scripts/test, or inside scripts/with-session"
    );
}

/// Runs `secret-tool ARGS...` and returns (stdout, stderr). Fails the test when secret-tool
/// fails, so that a check for an entry's absence cannot pass because the Secret Service was
/// not there to ask.
///
/// Calls take turns within the test process: gnome-keyring has been seen to drop off the bus
/// when several `secret-tool search --all` and `clear` run at once. A call that fails is tried
/// twice more, a moment apart, since scripts/with-session starts a keyring daemon that died
/// again.
fn secret_tool(args: &[&str]) -> (String, String) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut tries = 0;
    loop {
        let out = Command::new("secret-tool")
            .args(args)
            .output()
            .expect("run secret-tool (Debian package libsecret-tools)");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            return (stdout, stderr);
        }
        tries += 1;
        assert!(
            tries < 3,
            "secret-tool {args:?} failed ({}): {stderr}",
            out.status
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// `secret-tool search --all service ssobar username NAME`: what the Secret Service holds
/// for an ssobar entry, as a person would look it up (empty when there is none). Fails the
/// test when secret-tool fails.
pub fn secret_tool_search(entry: &str) -> String {
    let (stdout, stderr) =
        secret_tool(&["search", "--all", "service", "ssobar", "username", entry]);
    format!("{stdout}{stderr}")
}

/// The names of every ssobar entry the Secret Service holds whose name starts with `prefix`.
/// Fails the test when secret-tool fails.
pub fn secret_tool_entries(prefix: &str) -> Vec<String> {
    let (_, attributes) = secret_tool(&["search", "--all", "service", "ssobar"]);
    attributes
        .lines()
        .filter_map(|line| line.strip_prefix("attribute.username = "))
        .filter(|name| name.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// `secret-tool clear service ssobar username NAME`: deletes an ssobar entry behind ssobar's
/// back. Fails the test when secret-tool fails.
pub fn secret_tool_clear(entry: &str) {
    secret_tool(&["clear", "service", "ssobar", "username", entry]);
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                found.push(path);
            }
        }
    }
    found
}

/// A loopback Kubernetes API server that checks EKS tokens as aws-iam-authenticator does
/// (`tests/peers/kube_apiserver.py`), with a fresh self-signed certificate for 127.0.0.1.
pub struct KubeApiServer {
    child: std::process::Child,
    /// The cluster it answers for.
    pub cluster_id: String,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The CA (the server's own certificate), PEM.
    pub ca_file: PathBuf,
    log: PathBuf,
}

impl KubeApiServer {
    /// Starts a server for `cluster_id` that sends tokens to STS at `sts_endpoint`; its files
    /// go in `dir`.
    pub fn start(dir: &Path, cluster_id: &str, sts_endpoint: &str) -> Self {
        let cert = dir.join(format!("{cluster_id}-cert.pem"));
        let key = dir.join(format!("{cluster_id}-key.pem"));
        let log = dir.join(format!("{cluster_id}-requests.log"));
        Ran::run(
            Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                ])
                .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
                .args(["-addext", "subjectAltName=IP:127.0.0.1"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        )
        .success();
        let mut child = Command::new(peer_python())
            .arg(peer_script("kube_apiserver.py"))
            .args(["--cluster-id", cluster_id, "--sts-endpoint", sts_endpoint])
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .arg("--log")
            .arg(&log)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the API server stand-in");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("read the server's URL");
        assert!(line.starts_with("https://"), "the server said {line:?}");
        Self {
            child,
            cluster_id: cluster_id.to_owned(),
            url: line.trim().to_owned(),
            ca_file: cert,
            log,
        }
    }

    /// Every request so far: `{"path", "ok", "detail"}` (detail: the caller ARN, or why not).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON log line"))
            .collect()
    }
}

impl Drop for KubeApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/screenshots/NAME`: where the desktop suites keep their screenshots.
pub fn screenshot_path(name: &str) -> PathBuf {
    let dir = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir.join(name)
}

/// Fails the test unless a desktop is there (scripts/test starts Xvfb, trayer and dunst).
pub fn require_desktop() {
    require_secret_service();
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "no DISPLAY: run the tests with scripts/test, or inside scripts/with-session --desktop"
    );
}

/// Polls `check` every 100 ms until it gives a value or `seconds` pass.
pub fn wait_for<T>(seconds: u64, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The workspace's root folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/support is two levels below the root")
        .to_path_buf()
}

/// The Python with the peer packages (botocore from PyPI) that the README's test command
/// installs in `target/peer-venv`. Peer tests fail rather than skip without it: a skipped
/// compatibility test would pass while proving nothing.
pub fn peer_python() -> PathBuf {
    let python = std::env::var_os("SSOBAR_PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/peer-venv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run scripts/test (the README's test command), which creates the peer venv",
        python.display()
    );
    python
}

/// The value of `export NAME='VALUE'` among the lines `ssobar serve --shell sh` printed;
/// fails the test when there is none.
pub fn exported(lines: &str, name: &str) -> String {
    lines
        .lines()
        .find_map(|l| l.trim_end().strip_prefix(&format!("export {name}='")))
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no {name} in {lines}"))
        .to_owned()
}

/// A script under `tests/peers/`.
pub fn peer_script(name: &str) -> PathBuf {
    workspace_root().join("tests/peers").join(name)
}

/// Runs `tests/peers/botocore_peer.py ARGS` with the peer Python in `sandbox` and returns what
/// it printed, as JSON; fails the test unless it succeeded.
pub fn botocore(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    Ran::run(
        sandbox
            .command(peer_python())
            .arg(peer_script("botocore_peer.py"))
            .args(args),
    )
    .success()
    .json()
}

/// libfaketime, Debian's `faketime` package (scripts/test installs it): preloaded into a
/// process, it sets that process's wall clock.
pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// Stops the wall clock of the process `cmd` starts at `epoch` (seconds since the epoch), so
/// that what it computes from "now" is exact; its monotonic clock runs on, so its timeouts
/// still expire. Fails the test without libfaketime rather than run on the real clock.
pub fn freeze_clock(cmd: &mut Command, epoch: i64) -> &mut Command {
    assert!(
        Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} is missing: run scripts/test, which installs the faketime package"
    );
    cmd.env("LD_PRELOAD", LIBFAKETIME)
        .env("FAKETIME_FMT", "%s")
        .env("FAKETIME", epoch.to_string())
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
}

/// A UTC timestamp `seconds` from now, as the AWS CLI writes it.
pub fn utc_in(seconds: i64) -> String {
    format_utc(jiff::Timestamp::now().as_second() + seconds)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_utc(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch)
        .expect("a timestamp in jiff's range")
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_like_the_aws_cli() {
        assert_eq!(format_utc(1_714_564_800), "2024-05-01T12:00:00Z");
    }
}
