//! The local channel between `ssobar` and `ssobar-app`: a helper asks the running app for a
//! profile's role credentials (the app as a credential agent, [`super::agent`]) and, when a
//! session needs a sign-in, asks it to sign in and waits for the outcome.
//!
//! Rules:
//! - What crosses it: sign-in requests, their progress and outcome, and role credentials
//!   (access key, secret key, session token, expiry) for a profile. Never an SSO access or
//!   refresh token: a helper told "signed in" reads the token store again itself. Credentials
//!   go only to a peer that runs as the app's own user, over the `0600` socket in the folder
//!   private to that user, which is exactly who may read them from the keychain anyway.
//! - One JSON object per line, at most [`MAX_MESSAGE`] bytes, each carrying the protocol
//!   version `v`. A malformed, oversized or unknown message gets a [`Reply::Error`] and the
//!   connection is closed; nothing a peer sends can stop the server.
//! - The socket lives in the runtime folder and is itself `0600`. Each side checks that the
//!   folder is private to the user it runs as ([`fsutil::check_private_dir`]: theirs by the
//!   effective uid, no permission for group or others) and refuses it in one line naming the
//!   `chmod`/`chown` otherwise, and that the other side runs as that same user (`SO_PEERCRED`
//!   on Linux, `getpeereid` on macOS). A folder others may enter, or that another user owns,
//!   would let them pose as the app or keep it from binding.
//! - A helper gives up connecting after [`CONNECT_TIMEOUT`], and on a credentials request
//!   hears the app's first word within [`AGENT_FIRST_WORD`] or goes its own way (the
//!   keychain): a stopped or stuck app costs a helper a fraction of a second, never a hang.
//!
//! Unix sockets only for now: elsewhere [`AppLink::connect`] finds no app and the helper signs
//! in from the terminal and reads the keychain itself, and the app serves no channel.

use crate::app::agent::{Handed, NotHanded};
use crate::aws::credentials::AwsCredentials;
use crate::paths::Paths;
use crate::settings::OnExpired;
use crate::util::fsutil::{self, NotPrivate};
use crate::util::secret::Secret;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The protocol version both sides write into every message.
pub const VERSION: u32 = 1;

/// The longest message either side accepts, newline excluded.
pub const MAX_MESSAGE: usize = 4096;

/// How long a helper tries to reach the app before deciding that none runs.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(50);

/// How long a helper waits for the app's first word on a credentials request: the answer, or
/// [`Reply::Working`] when the app must fetch them first. Past it the helper reads the keychain
/// itself.
pub const AGENT_FIRST_WORD: Duration = Duration::from_millis(250);

/// How long a helper waits for credentials the app said it is fetching: the AWS calls' own
/// budget, plus a little.
pub const AGENT_FETCH_WITHIN: Duration = Duration::from_secs(40);

/// How long a helper waits for each of the app's words on a credentials request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadlines {
    /// For the first: the answer, or [`Reply::Working`].
    pub first_word: Duration,
    /// For the answer after [`Reply::Working`].
    pub answer: Duration,
}

impl Deadlines {
    /// This machine's app: a helper that hears nothing soon reads the keychain itself.
    pub const LOCAL: Self = Self {
        first_word: AGENT_FIRST_WORD,
        answer: AGENT_FETCH_WITHIN,
    };

    /// An app reached through `ssh -R`: the network's round trips come first, and there is
    /// nothing else to turn to, so the person's answer is waited for as long as a sign-in is
    /// (`sign_in_wait`).
    pub fn remote(wait: Duration) -> Self {
        Self {
            first_word: Duration::from_secs(10),
            answer: wait.max(AGENT_FETCH_WITHIN),
        }
    }
}

/// How long the app waits for a request on a new connection before closing it.
pub const REQUEST_WITHIN: Duration = Duration::from_secs(2);

/// How many connections may be open without having sent their request; a new one closes the
/// oldest of them, so idle connections cannot crowd out a helper that speaks at once.
pub const MAX_IDLE: usize = 64;

/// The socket's file name in the runtime folder.
const SOCKET_NAME: &str = "app.sock";

/// Where the running app listens.
pub fn socket_path(paths: &Paths) -> PathBuf {
    paths.runtime_dir.join(SOCKET_NAME)
}

/// Where a helper finds the app: `SSOBAR_AGENT` (a forwarded channel, on a remote shell),
/// else where this machine's app listens.
pub fn helper_socket(paths: &Paths) -> PathBuf {
    paths
        .agent_socket
        .clone()
        .unwrap_or_else(|| socket_path(paths))
}

/// When the app should start the sign-in a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Start {
    /// As the app's `on_sign_in_request` setting says: a notification, or the browser at once.
    AsConfigured,
    /// The browser at once: the person asked for a sign-in (`ssobar login`).
    Now,
}

/// What a helper asks of the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Request {
    /// Sign in to a session (by its key, [`crate::config::SessionId::key`]).
    SignIn {
        /// The session's key.
        session: String,
        /// When to start.
        start: Start,
        /// The program that asks, as a remote helper names it (see [`Caller::on_host`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        program: Option<String>,
    },
    /// A profile's role credentials (see [`super::agent`]).
    Credentials {
        /// The profile.
        profile: String,
        /// A role to assume with the profile's credentials first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role_arn: Option<String>,
        /// The AWS config file the helper reads, so that the app never answers for a profile
        /// of the same name in another file; absent from a remote helper.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config_file: Option<PathBuf>,
        /// How long, in seconds, the credentials must still be good for.
        valid_for: i64,
        /// The program that asks, as a remote helper names it (see [`Caller::on_host`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        program: Option<String>,
    },
}

/// How the app put the sign-in before the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prompt {
    /// A notification with a "Sign in" action (and the tray) waits for a click.
    Notification,
    /// The sign-in is running: the browser is open, or a device code is on show.
    SigningIn,
}

/// Why a sign-in the app was asked for did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// Cancelled in the app (the window's Cancel, or the sign-in's own).
    Cancelled,
    /// The sign-in ran and failed; the reply's `detail` says why.
    SignInFailed,
    /// The app's AWS config has no such session.
    UnknownSession,
    /// The app is quitting.
    AppQuit,
    /// The app takes no requests from remote shells (`remote_requests = "refuse"`).
    RemoteRefused,
}

/// What the app answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Reply {
    /// The request is taken; the outcome follows on the same connection.
    Waiting {
        /// What the person is shown.
        prompt: Prompt,
    },
    /// The session is signed in: read the token store again.
    SignedIn,
    /// No sign-in came of it.
    Failed {
        /// Why, as the helper tells the person.
        why: Failure,
        /// The sign-in's own error, for [`Failure::SignInFailed`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A credentials request is taken and the credentials are being fetched; they follow.
    Working,
    /// A profile's role credentials.
    Credentials {
        /// Access key id.
        access_key_id: String,
        /// Secret access key.
        secret_access_key: Secret,
        /// Session token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_token: Option<Secret>,
        /// When they stop working, as the AWS tools write timestamps.
        expiration: String,
        /// The profile's region, when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
    },
    /// No credentials from the app; the helper goes its own way (the keychain, a sign-in).
    NotHanded {
        /// Why.
        why: NotHandedWhy,
        /// The app's own words, for a person.
        detail: String,
        /// For [`NotHandedWhy::SignInNeeded`], the session to sign in to (its key): a remote
        /// helper, which has no profiles of its own, asks for that sign-in with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
    },
    /// The message could not be used; the connection closes.
    Error {
        /// What was wrong with it.
        message: String,
    },
}

/// Why the app handed out no credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotHandedWhy {
    /// The profile's session needs a sign-in.
    SignInNeeded,
    /// The helper reads another AWS config file.
    OtherConfig,
    /// The person denied the request, or did not answer in time.
    Denied,
    /// The profile is wrong or a call failed.
    Failed,
}

impl Reply {
    /// The reply that hands out `handed`.
    pub fn credentials(handed: &Handed) -> Self {
        let credentials = &handed.credentials;
        Self::Credentials {
            access_key_id: credentials.access_key_id.clone(),
            secret_access_key: credentials.secret_access_key.clone(),
            session_token: credentials.session_token.clone(),
            expiration: crate::util::time::format_timestamp(credentials.expiration),
            region: handed.region.clone(),
        }
    }

    /// The reply for credentials not handed out; `session` is the key of the profile's SSO
    /// session, told when it needs a sign-in.
    pub fn not_handed(why: &NotHanded, session: Option<String>) -> Self {
        let kind = match why {
            _ if why.needs_sign_in() => NotHandedWhy::SignInNeeded,
            NotHanded::OtherConfig(_) => NotHandedWhy::OtherConfig,
            NotHanded::Denied(_) => NotHandedWhy::Denied,
            NotHanded::Failed(_) => NotHandedWhy::Failed,
        };
        Self::NotHanded {
            why: kind,
            detail: why.to_string(),
            session: session.filter(|_| kind == NotHandedWhy::SignInNeeded),
        }
    }
}

/// A message as one line: the JSON object with `v` added, and a newline.
pub fn encode<T: Serialize>(message: &T) -> String {
    let mut value = serde_json::to_value(message).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("v".into(), VERSION.into());
    }
    let mut line = value.to_string();
    line.push('\n');
    line
}

/// A message read from a line: the version checked first, so a newer peer is told so rather
/// than misread.
pub fn decode<T: for<'de> Deserialize<'de>>(line: &str) -> Result<T, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|_| "the message is not JSON".to_owned())?;
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "protocol version {v} is not spoken here (this side speaks {VERSION}); update ssobar and ssobar-app together"
            ));
        }
        None => return Err("the message has no protocol version `v`".to_owned()),
    }
    serde_json::from_value(value).map_err(|e| format!("the message is not understood: {e}"))
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Longer than [`MAX_MESSAGE`].
    #[error("the message is longer than {MAX_MESSAGE} bytes")]
    TooLong,
    /// The peer closed the connection mid-message.
    #[error("the connection closed mid-message")]
    Truncated,
    /// Not UTF-8.
    #[error("the message is not UTF-8 text")]
    NotText,
    /// The connection failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads one line of at most [`MAX_MESSAGE`] bytes; `None` when the peer closed the connection
/// before sending anything. Never buffers more than the limit, whatever the peer sends.
pub async fn read_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Option<String>, MessageError> {
    let mut line = Vec::new();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(MessageError::Truncated)
            };
        }
        let (chunk, end) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], Some(at + 1)),
            None => (available, None),
        };
        if line.len() + chunk.len() > MAX_MESSAGE {
            return Err(MessageError::TooLong);
        }
        line.extend_from_slice(chunk);
        let used = end.unwrap_or(chunk.len());
        reader.consume(used);
        if end.is_some() {
            return String::from_utf8(line)
                .map(Some)
                .map_err(|_| MessageError::NotText);
        }
    }
}

/// What a helper does about a session that needs a sign-in, in the order it tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Ask the running app, and wait.
    AskApp,
    /// Sign in from this terminal, as `ssobar login` does.
    Terminal,
}

/// The ways to try, by the `on_expired` setting and whether a person is at a terminal. An
/// empty list means: fail at once with the message naming `ssobar login`. Nothing here opens
/// a browser for a process nobody watches.
pub fn recovery_order(on_expired: OnExpired, attended: Attended) -> &'static [Recovery] {
    match (on_expired, attended) {
        (OnExpired::App, Attended::ByPerson) => &[Recovery::AskApp, Recovery::Terminal],
        (OnExpired::App, Attended::Unattended) => &[Recovery::AskApp],
        (OnExpired::Terminal, Attended::ByPerson) => &[Recovery::Terminal],
        (OnExpired::Terminal, Attended::Unattended) | (OnExpired::Fail, _) => &[],
    }
}

/// Whether a person can answer a sign-in from where a helper runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attended {
    /// A terminal is there (stderr is one, or kubectl says it passed its own).
    ByPerson,
    /// Nobody watches (a CI job, an IDE's background call): never open a browser unasked.
    Unattended,
}

/// The program that asked, as the app lists it: the helper's parent (kubectl, aws, python3),
/// since the helper itself is always `ssobar`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// Its command name (`/proc/PID/comm`), made printable.
    pub command: String,
    /// Its process id, when known.
    pub pid: Option<u32>,
    /// Its command line as a person would know it ("terraform apply"), shortened and made
    /// printable; the command name when it cannot be read.
    pub command_line: String,
    /// Its working directory, when it can be read.
    pub cwd: Option<String>,
    /// Its executable's path (`/proc/PID/exe`), by which an approval knows it.
    pub exe: Option<String>,
    /// The host of a remote shell whose request came through the `ssh` client forwarding the
    /// channel (`ssh -R`), as that client's command line names it.
    pub remote: Option<String>,
}

impl Caller {
    /// The caller behind a peer process: its parent when the peer is `ssobar`; a program on
    /// a remote host when the peer is the `ssh` client that forwards the channel; else itself.
    pub fn of_peer(pid: Option<u32>) -> Self {
        let Some(pid) = pid else {
            return Self::unknown(None);
        };
        match process_name(pid) {
            Some(name) if name == "ssh" => Self::through_ssh(pid),
            Some(name) if name == "ssobar" => match parent_of(pid) {
                Some(parent) => Self::of_process(
                    parent,
                    process_name(parent).unwrap_or_else(|| "a program".to_owned()),
                ),
                None => Self::of_process(pid, name),
            },
            Some(name) => Self::of_process(pid, name),
            None => Self::unknown(Some(pid)),
        }
    }

    /// The program that runs this `ssobar`: its parent process.
    pub fn of_this_helper() -> Self {
        Self::of_peer(Some(std::process::id()))
    }

    fn of_process(pid: u32, command: String) -> Self {
        let command_line = command_line_of(pid).unwrap_or_else(|| command.clone());
        let link = |name: &str| {
            std::fs::read_link(format!("/proc/{pid}/{name}"))
                .ok()
                .map(|path| crate::util::text::printable(&path.display().to_string()))
        };
        Self {
            command,
            pid: Some(pid),
            command_line,
            cwd: link("cwd"),
            exe: link("exe"),
            remote: None,
        }
    }

    /// A request that came through the `ssh` client `pid`: from the host its command line
    /// names. Nothing of the remote program can be read from here; [`Self::on_host`] takes
    /// what the remote helper says of it.
    fn through_ssh(pid: u32) -> Self {
        let words = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|raw| {
                raw.split(|&b| b == 0)
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let host = ssh_destination(&words).unwrap_or_else(|| "a remote host".to_owned());
        let host = crate::util::text::printable(&host);
        let command = format!("a program on {host}");
        Self {
            command: command.clone(),
            pid: Some(pid),
            command_line: command,
            cwd: None,
            exe: None,
            remote: Some(host),
        }
    }

    /// A remote caller named by what its helper said of it ("kubectl"): shown as "kubectl on
    /// devbox". The name is the remote machine's word, only ever shown, never trusted: an
    /// approval is given to the host ([`crate::app::approvals::Asker::of`]).
    pub fn on_host(mut self, program: Option<&str>) -> Self {
        if let (Some(host), Some(program)) = (&self.remote, program) {
            let program = crate::util::text::printable(program);
            let program: String = program.chars().take(COMMAND_LINE_CHARS).collect();
            if !program.is_empty() {
                self.command = format!("{program} on {host}");
                self.command_line = self.command.clone();
            }
        }
        self
    }

    /// The caller as the access log names it.
    pub fn program(&self) -> crate::creds::access_log::Program {
        crate::creds::access_log::Program {
            command_line: self.command_line.clone(),
            pid: self.pid,
            cwd: self.cwd.clone(),
            host: self.remote.clone(),
        }
    }

    /// "kubectl (pid 4242)".
    pub fn describe(&self) -> String {
        match self.pid {
            Some(pid) => format!("{} (pid {pid})", self.command),
            None => self.command.clone(),
        }
    }

    fn unknown(pid: Option<u32>) -> Self {
        Self {
            command: "a program".to_owned(),
            pid,
            command_line: "a program".to_owned(),
            cwd: None,
            exe: None,
            remote: None,
        }
    }
}

/// The host an `ssh` command line connects to: its first word that is not an option or an
/// option's argument (OpenSSH's own option letters), without a user, a port or `ssh://`.
pub fn ssh_destination(words: &[String]) -> Option<String> {
    // ssh's options that take an argument (its getopt string, OpenSSH 9).
    const WITH_ARGUMENT: &str = "BbcDEeFIiJLlmOoPpQRSWw";
    let mut rest = words.iter().skip(1);
    while let Some(word) = rest.next() {
        if word == "--" {
            return rest.next().map(|w| host_of(w));
        }
        let Some(letters) = word.strip_prefix('-').filter(|l| !l.is_empty()) else {
            return Some(host_of(word));
        };
        // Flags run together ("-NfR"); the first that takes an argument takes the rest of
        // the word, or the next word.
        for (at, letter) in letters.char_indices() {
            if WITH_ARGUMENT.contains(letter) {
                if at + letter.len_utf8() == letters.len() {
                    rest.next();
                }
                break;
            }
        }
    }
    None
}

/// `user@host`, `ssh://user@host:2222` → `host`.
fn host_of(destination: &str) -> String {
    let plain = destination.strip_prefix("ssh://");
    let rest = plain.unwrap_or(destination);
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = match plain {
        Some(_) => host.split(':').next().unwrap_or(host),
        None => host,
    };
    host.to_owned()
}

/// The longest command line a caller is shown with, in characters.
const COMMAND_LINE_CHARS: usize = 80;

/// A process's command line (`/proc/PID/cmdline`) as a person knows it: the program's base
/// name and its arguments, printable, at most [`COMMAND_LINE_CHARS`] characters.
fn command_line_of(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut words = raw
        .split(|&b| b == 0)
        .filter(|word| !word.is_empty())
        .map(String::from_utf8_lossy);
    let program = words.next()?;
    let program = program.rsplit('/').next().unwrap_or(&program).to_owned();
    let line = std::iter::once(program)
        .chain(words.map(|w| w.into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let line = crate::util::text::printable(&line);
    Some(if line.chars().count() > COMMAND_LINE_CHARS {
        let mut short: String = line.chars().take(COMMAND_LINE_CHARS - 1).collect();
        short.push('…');
        short
    } else {
        line
    })
}

/// A process's command name (Linux's `/proc/PID/comm`), made safe to show.
fn process_name(pid: u32) -> Option<String> {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let name = crate::util::text::printable(name.trim());
    (!name.is_empty()).then_some(name)
}

/// A process's parent (field 4 of `/proc/PID/stat`, after the parenthesised name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// "kubectl is waiting for corp", "3 programs (kubectl, python3) are waiting for corp".
pub fn waiting_line(callers: &[Caller], session_label: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    for caller in callers {
        if !names.contains(&caller.command.as_str()) {
            names.push(&caller.command);
        }
    }
    match callers {
        [] => format!("nothing is waiting for {session_label}"),
        [one] => format!("{} is waiting for {session_label}", one.command),
        many => format!(
            "{} programs ({}) are waiting for {session_label}",
            many.len(),
            names.join(", ")
        ),
    }
}

/// The server side, as the app runs it.
#[cfg(unix)]
pub mod server {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::UnixStream;
    use tokio::sync::oneshot;

    /// What the app does with requests: the server handles the wire, this the meaning.
    pub trait RequestDesk: Send + Sync + 'static {
        /// Takes a sign-in request from `caller`; the ticket says what to answer now and,
        /// when the request waits, where its outcome will come from.
        fn request(&self, caller: Caller, session: &str, start: Start) -> Ticket;
        /// The caller behind a waiting ticket hung up: it no longer waits.
        fn hang_up(&self, ticket: u64);
        /// Answers a credentials request from `caller`: a [`Reply::Credentials`] or a
        /// [`Reply::NotHanded`].
        fn credentials(
            &self,
            caller: Caller,
            request: CredentialsRequest,
        ) -> std::pin::Pin<Box<dyn Future<Output = Reply> + Send>>;
    }

    /// A credentials request as the desk gets it.
    pub struct CredentialsRequest {
        /// The profile.
        pub profile: String,
        /// A role to assume with the profile's credentials first.
        pub role_arn: Option<String>,
        /// The AWS config file the helper reads, when it said.
        pub config_file: Option<PathBuf>,
        /// How long the credentials must still be good for, in seconds.
        pub valid_for: i64,
    }

    /// How long the server lets the desk work on credentials before it tells the helper it
    /// is fetching them, well inside the helper's [`AGENT_FIRST_WORD`].
    const WORKING_AFTER: Duration = Duration::from_millis(100);

    /// The app's first answer to a request.
    pub struct Ticket {
        /// What to send now.
        pub reply: Reply,
        /// For a request that waits: its id (for [`RequestDesk::hang_up`]) and its outcome.
        pub outcome: Option<(u64, oneshot::Receiver<Reply>)>,
    }

    impl Ticket {
        /// An answer that ends the request at once.
        pub fn at_once(reply: Reply) -> Self {
            Self {
                reply,
                outcome: None,
            }
        }
    }

    /// A bound socket, ready to serve.
    pub struct Server {
        listener: std::os::unix::net::UnixListener,
        me: u32,
    }

    impl Server {
        /// Binds the socket at `path`, replacing one left by an app that died (nobody
        /// answers on it); fails when a live app serves it, or when its folder is not private
        /// to this user (the error is then the one line naming the folder and what to run).
        /// A missing folder is made `0700`; one that exists is never changed. The socket
        /// appears under its name only once it is `0600`.
        pub fn bind(path: &Path) -> std::io::Result<Self> {
            let folder = path.parent().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a socket path with no folder",
                )
            })?;
            if !folder.exists() {
                fsutil::ensure_private_dir(folder)?;
            }
            if let Some(why) = fsutil::check_private_dir(folder)? {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    why,
                ));
            }
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("another ssobar-app serves {}", path.display()),
                ));
            }
            let fresh = folder.join(format!("{SOCKET_NAME}.{}", std::process::id()));
            crate::util::fsutil::remove_if_exists(&fresh)?;
            let listener = std::os::unix::net::UnixListener::bind(&fresh)?;
            std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o600))?;
            // rename replaces a stale socket in one step: a helper finds the old one or the
            // new one, never none.
            std::fs::rename(&fresh, path)?;
            listener.set_nonblocking(true)?;
            Ok(Self {
                listener,
                me: fsutil::my_uid(),
            })
        }

        /// Serves connections until the runtime stops, each on its own task.
        pub async fn serve(self, desk: Arc<dyn RequestDesk>) -> std::io::Result<()> {
            let listener = tokio::net::UnixListener::from_std(self.listener)?;
            let idle = Arc::new(Idle::default());
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, say: wait a little instead of spinning.
                        tracing::warn!("cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let desk = desk.clone();
                let me = self.me;
                let idle = idle.clone();
                tokio::spawn(async move { serve_one(stream, me, desk.as_ref(), &idle).await });
            }
        }
    }

    /// The connections that have not sent their request yet, oldest first.
    #[derive(Default)]
    struct Idle {
        queue: std::sync::Mutex<IdleQueue>,
    }

    /// The last id given, and each idle connection's id with the sender that evicts it.
    type IdleQueue = (u64, std::collections::VecDeque<(u64, oneshot::Sender<()>)>);

    impl Idle {
        /// Admits a connection; the receiver fires if it is pushed out by newer ones.
        fn admit(&self) -> (u64, oneshot::Receiver<()>) {
            let (evict, evicted) = oneshot::channel();
            let mut guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let (next, queue) = &mut *guard;
            *next += 1;
            queue.push_back((*next, evict));
            if queue.len() > MAX_IDLE
                && let Some((_, oldest)) = queue.pop_front()
            {
                let _ = oldest.send(());
            }
            (*next, evicted)
        }

        fn leave(&self, id: u64) {
            let mut guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            guard.1.retain(|(other, _)| *other != id);
        }
    }

    async fn send(stream: &mut (impl AsyncWriteExt + Unpin), reply: &Reply) -> bool {
        stream.write_all(encode(reply).as_bytes()).await.is_ok()
    }

    async fn serve_one(stream: UnixStream, me: u32, desk: &dyn RequestDesk, idle: &Idle) {
        let peer = stream.peer_cred().ok();
        let (read, mut write) = stream.into_split();
        if peer.is_none_or(|p| p.uid() != me) {
            let message = "refused: ssobar-app serves only the user it runs as".to_owned();
            send(&mut write, &Reply::Error { message }).await;
            return;
        }
        let mut reader = BufReader::with_capacity(1024, read);
        let (id, evicted) = idle.admit();
        let line = tokio::select! {
            line = tokio::time::timeout(REQUEST_WITHIN, read_message(&mut reader)) => line,
            _ = evicted => {
                let message = "too many connections are waiting to speak; try again".to_owned();
                send(&mut write, &Reply::Error { message }).await;
                return;
            }
        };
        idle.leave(id);
        let line = match line {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                send(
                    &mut write,
                    &Reply::Error {
                        message: e.to_string(),
                    },
                )
                .await;
                return;
            }
            Err(_) => {
                let message = format!("no request within {} seconds", REQUEST_WITHIN.as_secs());
                send(&mut write, &Reply::Error { message }).await;
                return;
            }
        };
        let request = match decode::<Request>(&line) {
            Ok(request) => request,
            Err(message) => {
                send(&mut write, &Reply::Error { message }).await;
                return;
            }
        };
        let pid = peer
            .and_then(|p| p.pid())
            .and_then(|p| u32::try_from(p).ok());
        let (session, start, program) = match request {
            Request::SignIn {
                session,
                start,
                program,
            } => (session, start, program),
            Request::Credentials {
                profile,
                role_arn,
                config_file,
                valid_for,
                program,
            } => {
                let request = CredentialsRequest {
                    profile,
                    role_arn,
                    config_file,
                    valid_for,
                };
                let caller = Caller::of_peer(pid).on_host(program.as_deref());
                let mut answer = desk.credentials(caller, request);
                let reply = match tokio::time::timeout(WORKING_AFTER, &mut answer).await {
                    Ok(reply) => reply,
                    Err(_) => {
                        if !send(&mut write, &Reply::Working).await {
                            return;
                        }
                        answer.await
                    }
                };
                send(&mut write, &reply).await;
                return;
            }
        };
        let caller = Caller::of_peer(pid).on_host(program.as_deref());
        let ticket = desk.request(caller, &session, start);
        if !send(&mut write, &ticket.reply).await {
            if let Some((id, _)) = ticket.outcome {
                desk.hang_up(id);
            }
            return;
        }
        let Some((id, outcome)) = ticket.outcome else {
            return;
        };
        tokio::select! {
            reply = outcome => {
                let reply = reply.unwrap_or(Reply::Failed { why: Failure::AppQuit, detail: None });
                send(&mut write, &reply).await;
            }
            () = hung_up(&mut reader) => desk.hang_up(id),
        }
    }

    /// Resolves when the peer closes its end; anything it sends meanwhile is dropped.
    async fn hung_up(reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>) {
        let mut sink = [0u8; 256];
        while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
    }
}

/// A helper's connection to the running app.
pub struct AppLink {
    #[cfg(unix)]
    reader: tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>,
    #[cfg(unix)]
    writer: tokio::net::unix::OwnedWriteHalf,
}

/// Why talking to the app failed after it answered the connection.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The app closed the connection (it quit, or was killed) before the outcome.
    #[error("ssobar-app stopped before the sign-in finished")]
    Closed,
    /// A message could not be read or used.
    #[error("ssobar-app sent a message ssobar cannot read: {0}")]
    Unreadable(String),
    /// The connection failed.
    #[error("the connection to ssobar-app failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What a helper finds at the app's socket.
pub enum Reach {
    /// The app, run by this user, answered.
    App(AppLink),
    /// No app answers: none runs, or none run by this user.
    NoApp,
    /// The socket's folder is not private to this user, so nothing in it is trusted: the
    /// helper goes on as with no app, after saying this one line.
    Refused(NotPrivate),
}

impl AppLink {
    /// The running app's channel at `path` when its folder is private to this user and an
    /// app run by this user answers within [`CONNECT_TIMEOUT`].
    #[cfg(unix)]
    pub async fn connect(path: &Path) -> Reach {
        let Some(folder) = path.parent() else {
            return Reach::NoApp;
        };
        match fsutil::check_private_dir(folder) {
            Ok(None) => {}
            Ok(Some(why)) => return Reach::Refused(why),
            // No folder, no app.
            Err(_) => return Reach::NoApp,
        }
        let connected =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(path)).await;
        let Ok(Ok(stream)) = connected else {
            return Reach::NoApp;
        };
        if stream
            .peer_cred()
            .map_or(true, |peer| peer.uid() != fsutil::my_uid())
        {
            return Reach::NoApp;
        }
        let (read, writer) = stream.into_split();
        Reach::App(Self {
            reader: tokio::io::BufReader::with_capacity(MAX_MESSAGE + 1, read),
            writer,
        })
    }

    /// No channel off Unix yet: no app is ever found.
    #[cfg(not(unix))]
    pub async fn connect(_path: &Path) -> Reach {
        Reach::NoApp
    }

    /// Sends a request.
    pub async fn send(&mut self, request: &Request) -> Result<(), LinkError> {
        #[cfg(unix)]
        {
            use tokio::io::AsyncWriteExt;
            self.writer.write_all(encode(request).as_bytes()).await?;
            Ok(())
        }
        #[cfg(not(unix))]
        {
            let _ = request;
            Err(LinkError::Closed)
        }
    }

    /// The app's next reply.
    pub async fn reply(&mut self) -> Result<Reply, LinkError> {
        #[cfg(unix)]
        {
            let line = read_message(&mut self.reader)
                .await
                .map_err(|e| match e {
                    MessageError::Io(e) => LinkError::Io(e),
                    MessageError::Truncated => LinkError::Closed,
                    other => LinkError::Unreadable(other.to_string()),
                })?
                .ok_or(LinkError::Closed)?;
            decode(&line).map_err(LinkError::Unreadable)
        }
        #[cfg(not(unix))]
        {
            Err(LinkError::Closed)
        }
    }
}

/// What a helper finds when it asks the app for a profile's credentials.
#[derive(Debug)]
pub enum AgentAnswer {
    /// The app handed them out.
    Handed(Handed),
    /// The app answered without credentials.
    NotHanded {
        /// Why.
        why: NotHandedWhy,
        /// The app's own words.
        detail: String,
        /// The session to sign in to, when that is why (its key).
        session: Option<String>,
    },
    /// No app answered in time (none runs, or it is stuck); or it said something unusable.
    NoApp,
    /// The socket's folder is not private to this user: nothing in it is trusted.
    Refused(NotPrivate),
}

/// Asks the app at `path` for credentials (`request` is a [`Request::Credentials`]), with
/// blocking I/O and no runtime: this is the warm path of `credential_process`. Never waits on
/// a full backlog, hears the first word and credentials being fetched within `within`;
/// anything else is [`AgentAnswer::NoApp`].
#[cfg(unix)]
pub fn ask_for_credentials(path: &Path, request: &Request, within: Deadlines) -> AgentAnswer {
    use std::io::{BufRead, BufReader, Read, Write};
    let Some(folder) = path.parent() else {
        return AgentAnswer::NoApp;
    };
    match fsutil::check_private_dir(folder) {
        Ok(None) => {}
        Ok(Some(why)) => return AgentAnswer::Refused(why),
        Err(_) => return AgentAnswer::NoApp,
    }
    let Some(stream) = connect_at_once(path) else {
        return AgentAnswer::NoApp;
    };
    let talk = || -> std::io::Result<Option<Reply>> {
        stream.set_write_timeout(Some(within.first_word))?;
        stream.set_read_timeout(Some(within.first_word))?;
        (&stream).write_all(encode(request).as_bytes())?;
        let mut reader = BufReader::with_capacity(MAX_MESSAGE + 1, &stream);
        let mut next = || -> std::io::Result<Option<Reply>> {
            let mut line = String::new();
            (&mut reader)
                .take(MAX_MESSAGE as u64 + 1)
                .read_line(&mut line)?;
            Ok(line
                .strip_suffix('\n')
                .and_then(|line| decode::<Reply>(line).ok()))
        };
        match next()? {
            Some(Reply::Working) => {
                stream.set_read_timeout(Some(within.answer))?;
                next()
            }
            other => Ok(other),
        }
    };
    match talk() {
        Ok(Some(Reply::Credentials {
            access_key_id,
            secret_access_key,
            session_token,
            expiration,
            region,
        })) => match crate::util::time::parse_timestamp(&expiration).ok() {
            Some(expiration) => AgentAnswer::Handed(Handed {
                credentials: AwsCredentials {
                    access_key_id,
                    secret_access_key,
                    session_token,
                    expiration,
                },
                region,
            }),
            None => AgentAnswer::NoApp,
        },
        Ok(Some(Reply::NotHanded {
            why,
            detail,
            session,
        })) => AgentAnswer::NotHanded {
            why,
            detail,
            session,
        },
        _ => AgentAnswer::NoApp,
    }
}

/// No channel off Unix yet: no app is ever found.
#[cfg(not(unix))]
pub fn ask_for_credentials(_path: &Path, _request: &Request, _within: Deadlines) -> AgentAnswer {
    AgentAnswer::NoApp
}

/// A connection to the socket at `path` that an app run by this user accepted, without
/// waiting: a stuck app whose backlog is full is no app.
#[cfg(unix)]
fn connect_at_once(path: &Path) -> Option<std::os::unix::net::UnixStream> {
    use rustix::net::{
        AddressFamily, SocketAddrUnix, SocketFlags, SocketType, connect, socket_with,
    };
    let fd = socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .ok()?;
    connect(&fd, &SocketAddrUnix::new(path).ok()?).ok()?;
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_nonblocking(false).ok()?;
    #[cfg(target_os = "linux")]
    if rustix::net::sockopt::socket_peercred(&stream)
        .map_or(true, |peer| peer.uid.as_raw() != fsutil::my_uid())
    {
        return None;
    }
    Some(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn the_host_of_an_ssh_command_line_is_its_first_word_not_an_option() {
        let cases = [
            ("ssh devbox", Some("devbox")),
            (
                "ssh -R /run/a.sock:/run/b.sock me@devbox kubectl get pods",
                Some("devbox"),
            ),
            (
                "ssh -NfR /r:/l -p 2222 -o StreamLocalBindUnlink=yes devbox",
                Some("devbox"),
            ),
            ("ssh -i key -lme -J jump -- build-7", Some("build-7")),
            ("ssh -4vA ssh://me@10.0.0.7:2222", Some("10.0.0.7")),
            ("ssh -p2222 me@[::1]", Some("[::1]")),
            ("ssh -R /r:/l", None),
        ];
        for (line, host) in cases {
            assert_eq!(ssh_destination(&words(line)).as_deref(), host, "{line}");
        }
    }

    #[test]
    fn a_remote_caller_is_named_by_its_program_and_host_and_a_local_one_is_not_renamed() {
        let remote = Caller {
            command: "a program on devbox".into(),
            pid: Some(7),
            command_line: "a program on devbox".into(),
            cwd: None,
            exe: None,
            remote: Some("devbox".into()),
        };
        let named = remote.clone().on_host(Some("kubectl\u{1b}[31m"));
        assert!(
            named.command.starts_with("kubectl")
                && named.command.ends_with(" on devbox")
                && !named.command.contains('\u{1b}'),
            "{named:?}"
        );
        assert_eq!(named.command_line, named.command);
        assert_eq!(remote.clone().on_host(None), remote);
        let local = Caller {
            remote: None,
            ..remote.clone()
        };
        assert_eq!(local.clone().on_host(Some("kubectl")), local);
    }

    #[test]
    fn every_message_carries_the_version_and_reads_back() {
        let request = Request::SignIn {
            session: "s:corp".into(),
            start: Start::AsConfigured,
            program: None,
        };
        let line = encode(&request);
        assert!(line.ends_with('\n'));
        assert!(line.contains("\"v\":1"), "{line}");
        assert_eq!(decode::<Request>(line.trim_end()), Ok(request));
        let reply = Reply::Failed {
            why: Failure::SignInFailed,
            detail: Some("denied".into()),
        };
        assert_eq!(decode::<Reply>(encode(&reply).trim_end()), Ok(reply));
    }

    #[test]
    fn credentials_cross_as_a_request_and_a_reply_that_never_print_the_secret() {
        let request = Request::Credentials {
            profile: "dev".into(),
            role_arn: None,
            config_file: Some("/home/me/.aws/config".into()),
            valid_for: 900,
            program: Some("kubectl".into()),
        };
        assert_eq!(decode::<Request>(encode(&request).trim_end()), Ok(request));
        let handed = Handed {
            credentials: AwsCredentials {
                access_key_id: "ASIA1".into(),
                secret_access_key: "the-secret".into(),
                session_token: Some("the-session".into()),
                expiration: "2024-05-01T14:00:00Z".parse().unwrap(),
            },
            region: Some("eu-west-1".into()),
        };
        let reply = Reply::credentials(&handed);
        let line = encode(&reply);
        assert!(
            line.contains("the-secret") && line.contains("2024-05-01T14:00:00Z"),
            "{line}"
        );
        assert_eq!(decode::<Reply>(line.trim_end()), Ok(reply.clone()));
        let shown = format!("{reply:?}");
        assert!(
            !shown.contains("the-secret") && !shown.contains("the-session"),
            "{shown}"
        );
    }

    #[test]
    fn another_version_is_named_in_the_error() {
        let err = decode::<Request>(r#"{"v":7,"type":"sign-in","session":"s:a","start":"now"}"#)
            .unwrap_err();
        assert!(err.contains("protocol version 7"), "{err}");
        assert!(
            decode::<Request>(r#"{"type":"sign-in"}"#)
                .unwrap_err()
                .contains("no protocol version")
        );
        assert!(
            decode::<Request>("{not json")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(decode::<Request>(r#"{"v":1,"type":"give-me-the-token"}"#).is_err());
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_refused_without_reading_it_all() {
        let big = vec![b'x'; 10 * 1024 * 1024];
        let mut reader = tokio::io::BufReader::with_capacity(1024, &big[..]);
        assert!(matches!(
            read_message(&mut reader).await,
            Err(MessageError::TooLong)
        ));
        let exact = format!("{}\nrest", "y".repeat(MAX_MESSAGE));
        let mut reader = tokio::io::BufReader::with_capacity(64, exact.as_bytes());
        assert_eq!(
            read_message(&mut reader).await.unwrap().unwrap().len(),
            MAX_MESSAGE
        );
        let mut reader = tokio::io::BufReader::new(&b"half a line"[..]);
        assert!(matches!(
            read_message(&mut reader).await,
            Err(MessageError::Truncated)
        ));
        let mut reader = tokio::io::BufReader::new(&b""[..]);
        assert!(read_message(&mut reader).await.unwrap().is_none());
    }

    #[test]
    fn only_an_interactive_helper_falls_back_to_the_terminal() {
        assert_eq!(
            recovery_order(OnExpired::App, Attended::ByPerson),
            [Recovery::AskApp, Recovery::Terminal]
        );
        assert_eq!(
            recovery_order(OnExpired::App, Attended::Unattended),
            [Recovery::AskApp]
        );
        assert_eq!(
            recovery_order(OnExpired::Terminal, Attended::ByPerson),
            [Recovery::Terminal]
        );
        assert!(recovery_order(OnExpired::Terminal, Attended::Unattended).is_empty());
        assert!(recovery_order(OnExpired::Fail, Attended::ByPerson).is_empty());
    }

    #[test]
    fn the_waiting_line_names_who_waits() {
        let kubectl = Caller {
            command: "kubectl".into(),
            pid: Some(10),
            command_line: "kubectl".into(),
            cwd: None,
            exe: None,
            remote: None,
        };
        let python = Caller {
            command: "python3".into(),
            pid: Some(11),
            command_line: "python3".into(),
            cwd: None,
            exe: None,
            remote: None,
        };
        assert_eq!(
            waiting_line(std::slice::from_ref(&kubectl), "corp"),
            "kubectl is waiting for corp"
        );
        assert_eq!(
            waiting_line(&[kubectl.clone(), kubectl.clone(), python], "corp"),
            "3 programs (kubectl, python3) are waiting for corp"
        );
    }

    #[test]
    fn the_caller_of_this_test_process_is_itself() {
        let me = Caller::of_peer(Some(std::process::id()));
        assert_eq!(me.pid, Some(std::process::id()));
        assert_ne!(me.command, "a program");
    }

    #[cfg(unix)]
    mod serving {
        use super::super::server::{CredentialsRequest, RequestDesk, Server, Ticket};
        use super::super::*;
        use std::sync::{Arc, Mutex};
        use tokio::sync::oneshot;

        /// A desk that keeps every sign-in request waiting and remembers hang-ups, and
        /// answers credentials requests after `credentials_after` (never, when `None`).
        #[derive(Default)]
        struct Desk {
            waiting: Mutex<Vec<(u64, oneshot::Sender<Reply>)>>,
            hung_up: Mutex<Vec<u64>>,
            credentials_after: Mutex<Option<Duration>>,
        }

        impl RequestDesk for Desk {
            fn request(&self, _caller: Caller, _session: &str, _start: Start) -> Ticket {
                let (tx, rx) = oneshot::channel();
                let mut waiting = self.waiting.lock().unwrap();
                let id = waiting.len() as u64;
                waiting.push((id, tx));
                Ticket {
                    reply: Reply::Waiting {
                        prompt: Prompt::Notification,
                    },
                    outcome: Some((id, rx)),
                }
            }

            fn hang_up(&self, ticket: u64) {
                self.hung_up.lock().unwrap().push(ticket);
            }

            fn credentials(
                &self,
                _caller: Caller,
                request: CredentialsRequest,
            ) -> std::pin::Pin<Box<dyn Future<Output = Reply> + Send>> {
                let after = *self.credentials_after.lock().unwrap();
                Box::pin(async move {
                    let Some(after) = after else {
                        return std::future::pending().await;
                    };
                    tokio::time::sleep(after).await;
                    Reply::NotHanded {
                        why: NotHandedWhy::Failed,
                        detail: format!("no profile {}", request.profile),
                        session: None,
                    }
                })
            }
        }

        fn credentials_request() -> Request {
            Request::Credentials {
                profile: "dev".into(),
                role_arn: None,
                config_file: None,
                valid_for: 60,
                program: None,
            }
        }

        /// The helper's blocking ask, off the runtime's threads.
        async fn ask_blocking(path: &Path) -> (AgentAnswer, std::time::Duration) {
            let path = path.to_owned();
            tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let answer = ask_for_credentials(&path, &credentials_request(), Deadlines::LOCAL);
                (answer, started.elapsed())
            })
            .await
            .unwrap()
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn a_helper_hears_the_answer_after_working_and_gives_up_on_a_silent_app() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("run/app.sock");
            let desk = serve(&path);

            // Longer than the first word's deadline: "working" keeps the helper waiting.
            *desk.credentials_after.lock().unwrap() = Some(AGENT_FIRST_WORD * 3);
            let (answer, _) = ask_blocking(&path).await;
            let AgentAnswer::NotHanded { why, detail, .. } = answer else {
                panic!("{answer:?}");
            };
            assert_eq!(
                (why, detail.as_str()),
                (NotHandedWhy::Failed, "no profile dev")
            );

            // An app that never says a word: the helper goes its own way.
            *desk.credentials_after.lock().unwrap() = None;
            let server_stalled = dir.path().join("stalled/app.sock");
            fsutil::ensure_private_dir(server_stalled.parent().unwrap()).unwrap();
            let _listener = std::os::unix::net::UnixListener::bind(&server_stalled).unwrap();
            let (answer, took) = ask_blocking(&server_stalled).await;
            assert!(matches!(answer, AgentAnswer::NoApp), "{answer:?}");
            assert!(took < AGENT_FETCH_WITHIN, "{took:?}");

            // Nobody at all.
            let (answer, _) = ask_blocking(&dir.path().join("run/none.sock")).await;
            assert!(matches!(answer, AgentAnswer::NoApp), "{answer:?}");
        }

        fn serve(path: &Path) -> Arc<Desk> {
            let server = Server::bind(path).unwrap();
            let desk = Arc::new(Desk::default());
            let serving: Arc<dyn RequestDesk> = desk.clone();
            tokio::spawn(server.serve(serving));
            desk
        }

        async fn ask(path: &Path) -> AppLink {
            let Reach::App(mut link) = AppLink::connect(path).await else {
                panic!("the server does not answer");
            };
            let request = Request::SignIn {
                session: "s:corp".into(),
                start: Start::AsConfigured,
                program: None,
            };
            link.send(&request).await.unwrap();
            link
        }

        #[tokio::test]
        async fn a_stale_socket_is_replaced_and_a_live_one_is_kept() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("run/app.sock");
            fsutil::ensure_private_dir(path.parent().unwrap()).unwrap();
            // What an app killed with SIGKILL leaves: a socket file nobody listens on.
            drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
            assert!(
                matches!(AppLink::connect(&path).await, Reach::NoApp),
                "nobody answers"
            );
            let desk = serve(&path);
            let mut link = ask(&path).await;
            assert_eq!(
                link.reply().await.unwrap(),
                Reply::Waiting {
                    prompt: Prompt::Notification
                }
            );
            let err = Server::bind(&path)
                .err()
                .expect("a live socket is not taken");
            assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
            let (_, answer) = desk.waiting.lock().unwrap().pop().unwrap();
            answer.send(Reply::SignedIn).unwrap();
            assert_eq!(link.reply().await.unwrap(), Reply::SignedIn);
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        /// Makes `folder` as it must not be for the channel, in one of two ways.
        fn spoil(folder: &Path, how: Spoiled) {
            use std::os::unix::fs::PermissionsExt;
            match how {
                Spoiled::OpenToOthers => {
                    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777))
                        .unwrap()
                }
                // Only root can give a folder away: the suites run as root.
                Spoiled::OwnedByNobody => std::os::unix::fs::chown(folder, Some(65534), None)
                    .expect("chown to nobody (the test runs as root)"),
            }
        }

        #[derive(Clone, Copy, Debug)]
        enum Spoiled {
            OpenToOthers,
            OwnedByNobody,
        }

        #[tokio::test]
        async fn a_folder_others_may_enter_or_another_user_owns_is_refused_on_both_ends() {
            for how in [Spoiled::OpenToOthers, Spoiled::OwnedByNobody] {
                let dir = tempfile::tempdir().unwrap();
                let folder = dir.path().join("run");
                let path = folder.join("app.sock");
                fsutil::ensure_private_dir(&folder).unwrap();
                spoil(&folder, how);
                let err = Server::bind(&path)
                    .err()
                    .unwrap_or_else(|| panic!("{how:?}: the app bound"));
                assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
                let line = err.to_string();
                assert!(
                    line.starts_with(&format!("{} ", folder.display())),
                    "{line}"
                );
                let fix = match how {
                    Spoiled::OpenToOthers => format!("chmod 700 {}", folder.display()),
                    Spoiled::OwnedByNobody => {
                        format!("chown {} {}", fsutil::my_uid(), folder.display())
                    }
                };
                assert!(line.contains(&fix), "{how:?}: {line}");
                assert!(!line.contains('\n'), "{line}");
                assert!(!path.exists(), "{how:?}: nothing was bound");

                // A live server in a folder spoiled after it bound: the helper does not talk.
                let good = dir.path().join("good");
                let path = good.join("app.sock");
                let desk = serve(&path);
                assert!(matches!(AppLink::connect(&path).await, Reach::App(_)));
                spoil(&good, how);
                let Reach::Refused(why) = AppLink::connect(&path).await else {
                    panic!("{how:?}: the helper trusted the folder");
                };
                assert_eq!(why.dir, good);
                assert!(why.to_string().contains("so ssobar does not use it: run"));
                assert!(
                    desk.waiting.lock().unwrap().is_empty(),
                    "no request was sent"
                );
            }
        }

        #[tokio::test]
        async fn idle_connections_cannot_crowd_out_a_request() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("run/app.sock");
            let _desk = serve(&path);
            let mut idle = Vec::new();
            for _ in 0..(MAX_IDLE * 3) {
                idle.push(tokio::net::UnixStream::connect(&path).await.unwrap());
            }
            let mut link = ask(&path).await;
            assert_eq!(
                link.reply().await.unwrap(),
                Reply::Waiting {
                    prompt: Prompt::Notification
                }
            );
            // The oldest idle ones were told why they were closed.
            let mut oldest = tokio::io::BufReader::new(idle.remove(0));
            let line = read_message(&mut oldest).await.unwrap().unwrap();
            assert!(line.contains("too many connections"), "{line}");
        }

        #[tokio::test]
        async fn a_waiter_that_hangs_up_is_forgotten() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("run/app.sock");
            let desk = serve(&path);
            let mut link = ask(&path).await;
            link.reply().await.unwrap();
            drop(link);
            for _ in 0..100 {
                if !desk.hung_up.lock().unwrap().is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(*desk.hung_up.lock().unwrap(), [0]);
        }

        #[tokio::test]
        async fn a_bad_message_gets_an_error_reply() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("run/app.sock");
            let _desk = serve(&path);
            for (sent, expected) in [
                (b"{\"v\":2}\n".to_vec(), "protocol version 2"),
                (b"[1,2\n".to_vec(), "not JSON"),
                (vec![b'{'; MAX_MESSAGE + 10], "longer than"),
            ] {
                let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
                let (read, mut write) = stream.into_split();
                use tokio::io::AsyncWriteExt;
                let _ = write.write_all(&sent).await;
                let mut reader = tokio::io::BufReader::new(read);
                let line = read_message(&mut reader).await.unwrap().unwrap();
                let reply: Reply = decode(&line).unwrap();
                assert!(
                    matches!(&reply, Reply::Error { message } if message.contains(expected)),
                    "{reply:?}"
                );
            }
        }
    }
}
