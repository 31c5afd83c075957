//! Reliability end to end: every AWS call ssobar makes under the faults a network and a
//! service can throw at it, processes killed in the middle of sign-ins and refreshes, and a
//! token cache that cannot be written. The real binary, the real Secret Service (the D-Bus
//! session scripts/test starts), ssobar-fake-aws and botocore as the peer.

use crate::SSOBAR;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ssobar_fake_aws::{FakeCluster, FakeConfig, Fault, Operation};
use ssobar_testkit::root::Root;
use ssobar_testkit::{
    BrowserMode, Ran, World, require_secret_service, secret_tool_clear, secret_tool_entries,
    secret_tool_search,
};

/// The SDK's attempts per call (`crates/core/src/aws.rs`).
const ATTEMPTS: usize = 3;

/// A call may take 30 s with its retries; a command that makes one ends well within this.
const BOUND: Duration = Duration::from_secs(40);

/// Injected latency: long, but under the 10 s an attempt may take, so the call succeeds.
const LATENCY: Duration = Duration::from_secs(5);

/// A fault that fails a call, as opposed to latency, which only slows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    ServerError,
    Throttle,
    ConnectionReset,
    MalformedJson,
}

const FAILURES: [Failure; 4] = [
    Failure::ServerError,
    Failure::Throttle,
    Failure::ConnectionReset,
    Failure::MalformedJson,
];

impl Failure {
    fn fault(self) -> Fault {
        match self {
            Self::ServerError => Fault::ServerError,
            Self::Throttle => Fault::Throttle,
            Self::ConnectionReset => Fault::ConnectionReset,
            Self::MalformedJson => Fault::MalformedJson,
        }
    }

    /// How many attempts the SDK makes when the fault persists: transient faults are
    /// retried; an answer that does not parse is not, as asking again would not fix it.
    fn attempts(self) -> usize {
        match self {
            Self::ServerError | Self::Throttle | Self::ConnectionReset => ATTEMPTS,
            Self::MalformedJson => 1,
        }
    }
}

/// What a command's AWS call should come to when the fault persists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WhenItPersists {
    /// Exit 1 with one line naming what to run next; files and keychain untouched.
    FailsAndKeepsState,
    /// Sign-out is done locally anyway: exit 0, one warning line, the token gone.
    WarnsAndSignsOutLocally,
}

/// One AWS call ssobar makes, the command that makes it, and how to set the world up so
/// that the command's only call that can be faulted is this one.
struct Call {
    operation: Operation,
    config: FakeConfig,
    mode: BrowserMode,
    /// Run once when the world starts.
    setup: fn(&World),
    /// Run before every case (a successful case may have used up what it needs).
    prepare: fn(&World),
    args: fn(&World) -> Vec<String>,
    persists: WhenItPersists,
    /// Whether the command keeps credentials in the keychain.
    keychain: bool,
}

fn no_prepare(_: &World) {}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Everything a failed call must leave as it was: the token cache's files, the kubeconfig
/// folder's files and the session's keychain entries. Not ssobar's lock files beside the
/// cache's: each names its last holder, which a failed call may well have been.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    files: BTreeMap<PathBuf, Vec<u8>>,
    keychain: BTreeMap<String, String>,
}

fn snapshot(w: &World) -> Snapshot {
    let mut files = BTreeMap::new();
    for dir in [w.sandbox.cache_dir(), w.sandbox.home().join(".kube")] {
        read_tree(&dir, &mut files);
    }
    Snapshot {
        files,
        keychain: keychain(&w.session),
    }
}

fn read_tree(dir: &Path, into: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name() == ".ssobar-locks" {
            continue;
        }
        if path.is_dir() {
            read_tree(&path, into);
        } else {
            into.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
        }
    }
}

/// gnome-keyring has been seen to drop off the bus when several of these tests store, list
/// and delete entries at once: the tests that use the keychain take turns.
static KEYCHAIN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The session's keychain entries (`KIND/SESSION/...`), each as `secret-tool` shows it:
/// secret, attributes and modification time.
fn keychain(session: &str) -> BTreeMap<String, String> {
    secret_tool_entries("")
        .into_iter()
        .filter(|name| name.split('/').nth(1) == Some(session))
        .map(|name| {
            // secret-tool shows the schema line only some of the time: it is no part of the entry.
            let shown: String = secret_tool_search(&name)
                .lines()
                .filter(|line| !line.starts_with("schema = "))
                .map(|line| format!("{line}\n"))
                .collect();
            (name, shown)
        })
        .collect()
}

/// Fails, naming what changed (never printing the secrets themselves), unless nothing did.
fn assert_unchanged(before: &Snapshot, after: &Snapshot, case: &str) {
    let changed_files: Vec<_> = before
        .files
        .keys()
        .chain(after.files.keys())
        .filter(|path| before.files.get(*path) != after.files.get(*path))
        .collect();
    let changed_entries: Vec<_> = before
        .keychain
        .keys()
        .chain(after.keychain.keys())
        .filter(|name| before.keychain.get(*name) != after.keychain.get(*name))
        .collect();
    assert!(
        changed_files.is_empty() && changed_entries.is_empty(),
        "{case}: a failed call changed files {changed_files:?} and keychain entries {changed_entries:?}"
    );
}

/// Deletes the session's keychain entries, so that the next credential fetch calls AWS.
fn forget_credentials(w: &World) {
    let names = keychain(&w.session).into_keys();
    for name in names {
        secret_tool_clear(&name);
    }
}

fn login(w: &World) {
    w.ssobar(&["login", "--profile", "dev"]).success();
}

fn device_login(w: &World) {
    w.ssobar(&["login", "--profile", "dev", "--device-code"])
        .success();
}

fn fresh_credentials(w: &World) {
    forget_credentials(w);
    w.ssobar(&["credential-process", "--profile", "dev"])
        .success();
}

/// A signed-in session whose client registration has expired, so a sign-in registers anew.
fn expired_registration(w: &World) {
    w.seed_sign_in(8 * 3600);
    let mut token = w.token().unwrap();
    token["registrationExpiresAt"] = serde_json::json!(ssobar_testkit::utc_in(-60));
    w.sandbox.write_token(&w.session, &token);
    for file in std::fs::read_dir(w.sandbox.cache_dir()).unwrap().flatten() {
        if file.path() != w.sandbox.token_path(&w.session) && file.path().is_file() {
            std::fs::remove_file(file.path()).unwrap();
        }
    }
}

fn add_cluster(w: &World) {
    w.seed_sign_in(8 * 3600);
    // DescribeCluster's answer is only written to the kubeconfig, never dialled here.
    w.fake.add_cluster(
        FakeCluster::new("prod", "https://127.0.0.1:6443", "bm90IGEgcmVhbCBDQQo=")
            .in_region("eu-west-1"),
    );
}

fn seed_and_fetch(w: &World) {
    w.seed_sign_in(8 * 3600);
    fresh_credentials(w);
}

fn signed_in(w: &World) {
    w.seed_sign_in(8 * 3600);
}

fn device_config() -> FakeConfig {
    FakeConfig {
        pending_polls_before_approval: Some(0),
        ..FakeConfig::default()
    }
}

/// Runs ssobar, timing it.
fn timed(w: &World, args: &[String]) -> (Ran, Duration) {
    let started = Instant::now();
    let ran = Ran::run(w.command().args(args));
    (ran, started.elapsed())
}

/// The one line that says what went wrong; fails unless there is exactly one and it comes
/// last (a sign-in prints its instructions before).
fn error_line(ran: &Ran) -> &str {
    let said: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|line| line.starts_with("ssobar: "))
        .collect();
    assert_eq!(said.len(), 1, "one error line:\n{}", ran.stderr);
    assert_eq!(ran.stderr.lines().last(), Some(said[0]), "{}", ran.stderr);
    said[0]
}

/// Runs `call`'s command under each fault, once injected (then retried) and injected for
/// every attempt; answers a line per case for the report.
fn exercise(name: &str, call: &Call) -> Vec<String> {
    require_secret_service();
    let _turn = call
        .keychain
        .then(|| KEYCHAIN.lock().unwrap_or_else(|e| e.into_inner()));
    let w = World::start(SSOBAR, call.config.clone(), call.mode);
    (call.setup)(&w);
    let mut report = Vec::new();
    let op = call.operation;

    // Latency under the attempt timeout: one slow attempt, no retry, success.
    (call.prepare)(&w);
    w.fake.reset_counters();
    w.fake.inject_fault(op, Fault::Latency(LATENCY), 1);
    let (ran, took) = timed(&w, &(call.args)(&w));
    ran.expect_code(0);
    assert_eq!(w.calls(op), 1, "{name}: a slow call is not retried");
    assert!(took >= LATENCY, "{name}: took {took:?}");
    report.push(format!("{name} latency 5s: ok in {took:.1?}"));

    for failure in FAILURES {
        // Once: the SDK retries a transient fault and the command succeeds. An answer that
        // does not parse is not retried, so it fails the command as a persistent one does.
        if failure.attempts() > 1 {
            (call.prepare)(&w);
            w.fake.reset_counters();
            w.fake.inject_fault(op, failure.fault(), 1);
            let (ran, took) = timed(&w, &(call.args)(&w));
            let ran = ran.expect_code(0);
            assert_eq!(
                w.calls(op),
                2,
                "{name} {failure:?} once: retried once\n{}",
                ran.stderr
            );
            report.push(format!(
                "{name} {failure:?} once: retried, ok in {took:.1?}"
            ));
        }

        // Every attempt: the command ends in bounded time and says what to do.
        (call.prepare)(&w);
        w.fake.reset_counters();
        let before = snapshot(&w);
        w.fake.inject_fault(op, failure.fault(), failure.attempts());
        let (ran, took) = timed(&w, &(call.args)(&w));
        assert!(took < BOUND, "{name} {failure:?}: took {took:?}");
        assert_eq!(
            w.calls(op),
            failure.attempts(),
            "{name} {failure:?}: attempts\n{}",
            ran.stderr
        );
        match call.persists {
            WhenItPersists::FailsAndKeepsState => {
                let ran = ran.expect_code(1);
                let line = error_line(&ran);
                let again = format!("; run \"ssobar {}\" again", (call.args)(&w).join(" "));
                assert!(line.ends_with(&again), "{name} {failure:?}: {line}");
                assert_unchanged(&before, &snapshot(&w), &format!("{name} {failure:?}"));
                report.push(format!(
                    "{name} {failure:?} x{}: {took:.1?}: {line}",
                    failure.attempts()
                ));
            }
            WhenItPersists::WarnsAndSignsOutLocally => {
                let ran = ran.expect_code(0);
                let line = if failure == Failure::MalformedJson {
                    // Logout answers with no body: a garbled one is never read.
                    assert_eq!(ran.stderr, "", "{name}: a clean sign-out");
                    "signed out, the body unread"
                } else {
                    let line = error_line(&ran);
                    assert!(line.starts_with("ssobar: warning: "), "{name}: {line}");
                    line
                };
                assert!(w.token().is_none(), "{name}: the local token is deleted");
                assert!(
                    keychain(&w.session).is_empty(),
                    "{name}: credentials deleted"
                );
                report.push(format!(
                    "{name} {failure:?} x{}: {took:.1?}: {line}",
                    failure.attempts()
                ));
            }
        }
    }
    for line in &report {
        eprintln!("{line}");
    }
    report
}

#[test]
fn register_client_survives_every_fault() {
    exercise(
        "RegisterClient",
        &Call {
            operation: Operation::RegisterClient,
            config: FakeConfig::default(),
            mode: BrowserMode::Follow,
            setup: no_prepare,
            prepare: expired_registration,
            args: |_| args(&["login", "--profile", "dev", "--force"]),
            persists: WhenItPersists::FailsAndKeepsState,
            keychain: false,
        },
    );
}

#[test]
fn start_device_authorization_survives_every_fault() {
    exercise(
        "StartDeviceAuthorization",
        &Call {
            operation: Operation::StartDeviceAuthorization,
            config: device_config(),
            mode: BrowserMode::Ignore,
            setup: device_login,
            prepare: no_prepare,
            args: |_| args(&["login", "--profile", "dev", "--device-code", "--force"]),
            persists: WhenItPersists::FailsAndKeepsState,
            keychain: false,
        },
    );
}

#[test]
fn create_token_of_a_sign_in_survives_every_fault() {
    exercise(
        "CreateToken (sign-in)",
        &Call {
            operation: Operation::CreateToken,
            config: FakeConfig::default(),
            mode: BrowserMode::Follow,
            setup: login,
            prepare: no_prepare,
            args: |_| args(&["login", "--profile", "dev", "--force"]),
            persists: WhenItPersists::FailsAndKeepsState,
            keychain: false,
        },
    );
}

#[test]
fn create_token_of_a_refresh_survives_every_fault() {
    exercise(
        "CreateToken (refresh)",
        &Call {
            operation: Operation::CreateToken,
            config: FakeConfig::default(),
            mode: BrowserMode::Ignore,
            setup: signed_in,
            prepare: no_prepare,
            args: |_| args(&["refresh", "--profile", "dev", "--force"]),
            persists: WhenItPersists::FailsAndKeepsState,
            keychain: false,
        },
    );
}

#[test]
fn get_role_credentials_survives_every_fault() {
    exercise(
        "GetRoleCredentials",
        &Call {
            operation: Operation::GetRoleCredentials,
            config: FakeConfig::default(),
            mode: BrowserMode::Ignore,
            setup: signed_in,
            prepare: forget_credentials,
            args: |_| args(&["credential-process", "--profile", "dev"]),
            persists: WhenItPersists::FailsAndKeepsState,
            keychain: true,
        },
    );
}

#[test]
fn assume_role_survives_every_fault() {
    exercise(
        "AssumeRole",
        &Call {
            operation: Operation::AssumeRole,
            config: FakeConfig::default(),
            mode: BrowserMode::Ignore,
            setup: signed_in,
            prepare: fresh_credentials,
            args: |_| args(&["credential-process", "--profile", "deploy"]),
            persists: WhenItPersists::FailsAndKeepsState,
            keychain: true,
        },
    );
}

#[test]
fn describe_cluster_survives_every_fault() {
    exercise(
        "DescribeCluster",
        &Call {
            operation: Operation::DescribeCluster,
            config: FakeConfig::default(),
            mode: BrowserMode::Ignore,
            setup: add_cluster,
            prepare: fresh_credentials,
            args: |_| args(&["kubeconfig", "--profile", "dev", "--cluster-id", "prod"]),
            persists: WhenItPersists::FailsAndKeepsState,
            keychain: true,
        },
    );
}

#[test]
fn logout_survives_every_fault() {
    exercise(
        "Logout",
        &Call {
            operation: Operation::Logout,
            config: FakeConfig::default(),
            mode: BrowserMode::Ignore,
            setup: no_prepare,
            prepare: seed_and_fetch,
            args: |_| args(&["logout", "--profile", "dev"]),
            persists: WhenItPersists::WarnsAndSignsOutLocally,
            keychain: true,
        },
    );
}

/// How long the kill storm lasts: `SSOBAR_KILL_STORM_SECONDS`, else a minute.
fn storm_duration() -> Duration {
    let seconds = std::env::var("SSOBAR_KILL_STORM_SECONDS")
        .ok()
        .map(|value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("SSOBAR_KILL_STORM_SECONDS={value:?} is no number"))
        })
        .unwrap_or(60);
    Duration::from_secs(seconds)
}

/// A small xorshift: which process dies and when need not be more random than that, and the
/// seed is printed so that a failing storm can be replayed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// The session's token file, whole: the old token or a new one, never a torn write.
fn assert_whole_token(path: &Path) {
    let bytes = std::fs::read(path).expect("the token file is there");
    let token: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "a torn token file ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    for field in [
        "accessToken",
        "expiresAt",
        "refreshToken",
        "clientId",
        "startUrl",
    ] {
        assert!(token[field].is_string(), "the token has {field}: {token}");
    }
}

/// Processes that refresh and sign in to one session, killed at random with SIGKILL: the
/// token file is always whole, no lock outlives its holder, and botocore can use what is left.
#[cfg(unix)]
#[test]
fn a_storm_of_killed_sign_ins_and_refreshes_leaves_a_whole_usable_token() {
    use std::process::Child;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    const WORKERS: usize = 8;
    let duration = storm_duration();
    let w = Arc::new(World::start(
        SSOBAR,
        FakeConfig::default(),
        BrowserMode::Follow,
    ));
    w.seed_sign_in(8 * 3600);
    let token_path = w.sandbox.token_path(&w.session);
    let running: Arc<Mutex<BTreeMap<usize, Child>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicUsize::new(0));
    let failed: Arc<Mutex<Vec<String>>> = Arc::default();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill storm: {duration:?}, seed {seed}");

    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (w, running, stop) = (w.clone(), running.clone(), stop.clone());
            let (runs, failed) = (runs.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut run = 0;
                while !stop.load(Ordering::SeqCst) {
                    let args: &[&str] = if (worker + run) % 2 == 0 {
                        &["refresh", "--profile", "dev", "--force"]
                    } else {
                        &["login", "--profile", "dev", "--force"]
                    };
                    let child = w
                        .command()
                        .args(args)
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .unwrap();
                    let key = worker * 1_000_000 + run;
                    running.lock().unwrap().insert(key, child);
                    // Polled rather than waited on, so that the killer can reach the child.
                    loop {
                        let mut table = running.lock().unwrap();
                        if let Some(status) = table.get_mut(&key).unwrap().try_wait().unwrap() {
                            // Already ended: this only collects what it said.
                            let output = table.remove(&key).unwrap().wait_with_output().unwrap();
                            // Killed ones have no code; the rest either worked or said why not.
                            if status.code().is_some_and(|code| code != 0) {
                                let said = String::from_utf8_lossy(&output.stderr);
                                let line = said.lines().last().unwrap_or_default().to_owned();
                                failed.lock().unwrap().push(format!("{args:?}: {line}"));
                            }
                            break;
                        }
                        drop(table);
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    run += 1;
                    runs.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    let mut dice = Dice(seed);
    let mut kills = 0;
    let started = Instant::now();
    while started.elapsed() < duration {
        std::thread::sleep(Duration::from_millis(50 + dice.roll(250)));
        let mut table = running.lock().unwrap();
        if table.is_empty() {
            continue;
        }
        let keys: Vec<usize> = table.keys().copied().collect();
        let key = keys[dice.roll(keys.len() as u64) as usize];
        let child = table.get_mut(&key).unwrap();
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            child.wait().unwrap();
            kills += 1;
        }
        drop(table);
        assert_whole_token(&token_path);
    }
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().unwrap();
    }
    let runs = runs.load(Ordering::SeqCst);
    let failed = failed.lock().unwrap().clone();
    for line in &failed {
        eprintln!("kill storm: failed {line}");
        // A refresh killed after the service rotated the refresh token, before the new one was
        // written, leaves one that is refused: the next refresh says to sign in.
        assert!(
            line.contains("; run \"ssobar "),
            "one line naming a command: {line}"
        );
    }
    let failed = failed.len();
    assert_whole_token(&token_path);

    // No lock outlives its holder: a refresh and a sign-in now are quick.
    for args in [
        &["refresh", "--profile", "dev", "--force"][..],
        &["login", "--profile", "dev", "--force"][..],
    ] {
        let (ran, took) = timed(
            &w,
            &args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>(),
        );
        ran.success();
        assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
    }
    assert_whole_token(&token_path);

    // Temp files a killed write left behind are not tokens: one session, signed in. The
    // token's own were cleared by the writes since; a registration's may still be there.
    let temp_files = || -> Vec<String> {
        std::fs::read_dir(w.sandbox.cache_dir())
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tmp"))
            .collect()
    };
    let leftovers = temp_files().len();
    let token_name = token_path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let token_strays: Vec<String> = temp_files()
        .into_iter()
        .filter(|name| name.starts_with(&format!(".{token_name}.")))
        .collect();
    assert!(
        token_strays.is_empty(),
        "killed writes of the token left {token_strays:?}"
    );
    let status = w
        .ssobar(&["status", "--json", "--profile", "dev"])
        .success()
        .json();
    assert_eq!(status[0]["state"], "valid", "{status}");

    // The AWS CLI's own reading of the cache works with what is left.
    let creds = ssobar_testkit::botocore(&w.sandbox, &["role-credentials", "--profile", "dev"]);
    assert!(creds["accessKeyId"].is_string(), "{creds}");
    eprintln!(
        "kill storm: {runs} runs, {kills} killed, {failed} failed, {} CreateToken calls, \
         {leftovers} temp files left, in {:?}",
        w.calls(Operation::CreateToken),
        started.elapsed()
    );
}

/// What the token cache sits on for a run.
#[derive(Clone, Copy, Debug)]
enum CacheMount {
    /// A tmpfs filled to the last byte.
    Full,
    /// The folder itself, bound read-only.
    ReadOnly,
}

/// Runs ssobar in a private mount namespace where `~/.aws/sso/cache` is on `mount`, and
/// answers what it printed and the session's token file as it was left there (the mount, and
/// what was written to it, end with the namespace). Making the namespace and the mount takes
/// `root`: this process's own, or passwordless sudo (ssobar then runs as this user again, with
/// the sandbox's environment). Where root cannot make one, the test fails: without it it
/// would prove nothing.
fn in_cache_mount(root: Root, w: &World, mount: CacheMount, args: &[&str]) -> (Ran, Vec<u8>) {
    let token_after = w.sandbox.home().join("token-after");
    let _ = std::fs::remove_file(&token_after);
    let prepare = match mount {
        // tmpfs counts in pages: the copy fits, and the filler takes what is left. The mount
        // belongs to the cache's owner, who runs ssobar.
        CacheMount::Full => {
            r#"cp -a "$cache" "$cache.copy" &&
            mount -t tmpfs -o "size=64k,mode=0700,uid=$(stat -c %u "$cache"),gid=$(stat -c %g "$cache")" tmpfs "$cache" &&
            cp -a "$cache.copy/." "$cache/" && rm -rf "$cache.copy" &&
            { cat /dev/zero > "$cache/.filler" 2>/dev/null || true; }"#
        }
        CacheMount::ReadOnly => {
            r#"mount --bind "$cache" "$cache" && mount -o remount,bind,ro "$cache""#
        }
    };
    // As root: the mount; then the rest of the command line, which runs ssobar (as the user
    // again under sudo) and keeps a copy of the token as ssobar left it.
    let as_root = format!(
        r#"set -e
cache=$1; shift
{prepare}
exec "$@""#
    );
    let as_user = r#"cache=$1 token=$2 after=$3; shift 3
"$@"; code=$?
cp "$cache/$token" "$after"
exit $code"#;
    let token_name = w
        .sandbox
        .token_path(&w.session)
        .file_name()
        .unwrap()
        .to_owned();
    let sandboxed = w.sandbox.command("unshare");
    let vars: Vec<(&str, &str)> = sandboxed
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?, v?.to_str()?)))
        .collect();
    let mut command = match root {
        Root::Already => w.sandbox.command("unshare"),
        Root::Sudo => root.command("unshare"),
    };
    let ran = Ran::run(
        command
            .args(["--mount", "sh", "-c", &as_root, "sh"])
            .arg(w.sandbox.cache_dir())
            .args(root.back_to_this_user(vars))
            .args(["sh", "-c", as_user, "sh"])
            .arg(w.sandbox.cache_dir())
            .arg(token_name)
            .arg(&token_after)
            .arg(SSOBAR)
            .args(args),
    );
    assert!(
        ["unshare failed", "mount: ", "setpriv: ", "sudo: "]
            .iter()
            .all(|failure| !ran.stderr.contains(failure)),
        "this test makes a private mount namespace (unshare --mount, as root or with \
         CAP_SYS_ADMIN) to put the token cache on a full or read-only file system; it could \
         not:\n{}",
        ran.stderr
    );
    let after = std::fs::read(&token_after).expect("the token file as it was left");
    (ran, after)
}

fn cache_cannot_be_written(mount: CacheMount, args: &[&str]) {
    // Without root or passwordless sudo: skipped, saying so.
    let Some(root) = Root::for_test(
        &format!("reliability: {args:?} into a {mount:?} token cache"),
        "to put the token cache on a full or read-only file system in a private mount \
         namespace (unshare --mount)",
    ) else {
        return;
    };
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    // A sign-in of ssobar's own, so that the next one reuses its client registration and
    // fails only when it writes the token.
    w.ssobar(&["login", "--profile", "dev"]).success();
    let before = std::fs::read(w.sandbox.token_path(&w.session)).unwrap();
    let (ran, after) = in_cache_mount(root, &w, mount, args);
    let ran = ran.expect_code(1);
    let line = error_line(&ran);
    let again = format!("; run \"ssobar {}\" again", args.join(" "));
    assert!(
        line.contains(".aws/sso/cache/") && line.ends_with(&again),
        "{mount:?} {args:?}: {line}"
    );
    assert!(
        after == before,
        "{mount:?} {args:?}: the old token is kept as it was"
    );
    eprintln!("{mount:?} {args:?}: {line}");
}

#[test]
fn a_refresh_into_a_full_cache_says_so_and_keeps_the_old_token() {
    cache_cannot_be_written(
        CacheMount::Full,
        &["refresh", "--profile", "dev", "--force"],
    );
}

#[test]
fn a_sign_in_into_a_full_cache_says_so_and_keeps_the_old_token() {
    cache_cannot_be_written(CacheMount::Full, &["login", "--profile", "dev", "--force"]);
}

#[test]
fn a_refresh_into_a_read_only_cache_says_so_and_keeps_the_old_token() {
    cache_cannot_be_written(
        CacheMount::ReadOnly,
        &["refresh", "--profile", "dev", "--force"],
    );
}

#[test]
fn a_sign_in_into_a_read_only_cache_says_so_and_keeps_the_old_token() {
    cache_cannot_be_written(
        CacheMount::ReadOnly,
        &["login", "--profile", "dev", "--force"],
    );
}

#[test]
fn get_caller_identity_survives_every_fault() {
    exercise(
        "GetCallerIdentity",
        &Call {
            operation: Operation::GetCallerIdentity,
            config: FakeConfig::default(),
            mode: BrowserMode::Ignore,
            setup: signed_in,
            prepare: fresh_credentials,
            args: |_| args(&["aws-auth", "--profile", "dev"]),
            persists: WhenItPersists::FailsAndKeepsState,
            keychain: true,
        },
    );
}
