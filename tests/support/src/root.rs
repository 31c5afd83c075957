//! The few tests that need root (a private mount namespace with `unshare --mount`, another
//! user with `setpriv`) get it by being root or through passwordless `sudo`; with neither they
//! skip, saying on the terminal which test and why (the README lists them).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How this process runs a command as root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    /// It is root.
    Already,
    /// Through `sudo -n` (no password asked).
    Sudo,
}

impl Root {
    /// Root for `test`, which needs it for `why`; `None`, after printing that the test is
    /// skipped and why, when this process is not root and `sudo -n` does not work.
    pub fn for_test(test: &str, why: &str) -> Option<Self> {
        let root = if user_id("-u") == "0" {
            Some(Self::Already)
        } else if sudo_without_password() {
            Some(Self::Sudo)
        } else {
            None
        };
        if root.is_none() {
            // Straight to the terminal: the test harness keeps a passing test's prints to itself.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: it needs root {why}; run it as root or as a user with \
                 passwordless sudo"
            );
        }
        root
    }

    /// A command that runs `program` as root. Through sudo it gets sudo's own environment,
    /// not this process's: what it needs goes on its command line.
    pub fn command(self, program: &str) -> Command {
        match self {
            Self::Already => Command::new(program),
            Self::Sudo => {
                let mut command = Command::new("sudo");
                command.args(["-n", "--", program]);
                command
            }
        }
    }

    /// `setpriv` arguments that make what follows them run as this process's user again (with
    /// `env -i` and `vars` as its whole environment), for a command [`Root::command`] started;
    /// none when this process is root itself, whose command keeps running as root.
    pub fn back_to_this_user<'a>(
        self,
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<String> {
        match self {
            Self::Already => Vec::new(),
            Self::Sudo => {
                let mut args = vec![
                    "setpriv".to_owned(),
                    format!("--reuid={}", user_id("-u")),
                    format!("--regid={}", user_id("-g")),
                    "--init-groups".to_owned(),
                    "env".to_owned(),
                    "-i".to_owned(),
                ];
                args.extend(vars.into_iter().map(|(k, v)| format!("{k}={v}")));
                args
            }
        }
    }
}

/// `id -u` or `id -g` of this process.
fn user_id(flag: &str) -> String {
    let out = Command::new("id")
        .arg(flag)
        .output()
        .expect("run id to learn this process's user");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn sudo_without_password() -> bool {
    Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// How a test starts a program in a network namespace of its own, whose only interface is
/// loopback: nothing it does reaches another machine, or this one's other ports, except
/// through what the test forwards into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetNamespace {
    /// `unshare --net` as root (itself or through sudo): the program runs as root.
    Root(Root),
    /// `unshare --user --map-current-user --keep-caps --net`: no privilege needed where the
    /// kernel lets users have namespaces. The program runs as this user, with the same user id
    /// inside (so the session bus, which checks the id a client claims, still lets it in) and
    /// the namespace's capabilities (so it can bring the loopback up).
    User,
}

impl NetNamespace {
    /// A way for `test`, which needs it `why`; `None`, after saying the test is skipped, when
    /// this process is not root, the kernel refuses users a namespace and `sudo -n` does not
    /// work.
    pub fn for_test(test: &str, why: &str) -> Option<Self> {
        if user_id("-u") == "0" {
            return Some(Self::Root(Root::Already));
        }
        let user = Command::new("unshare")
            .args(USER_NAMESPACE)
            .arg("true")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if user {
            return Some(Self::User);
        }
        Root::for_test(test, why).map(Self::Root)
    }

    /// `unshare` ready for the program and its arguments. The new namespace's loopback is
    /// down: the program brings it up.
    pub fn command(self) -> Command {
        match self {
            Self::Root(root) => {
                let mut command = root.command("unshare");
                command.arg("--net");
                command
            }
            Self::User => {
                let mut command = Command::new("unshare");
                command.args(USER_NAMESPACE);
                command
            }
        }
    }

    /// What makes the rest of a command [`NetNamespace::command`] started run as this
    /// process's user again, with `vars` as its whole environment (see
    /// [`Root::back_to_this_user`]); none when it already does.
    fn back_to_this_user<'a>(
        self,
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<String> {
        match self {
            Self::Root(root) => root.back_to_this_user(vars),
            Self::User => Vec::new(),
        }
    }
}

/// `unshare`'s arguments for a network namespace inside a user namespace of this user's own.
const USER_NAMESPACE: [&str; 4] = ["--user", "--map-current-user", "--keep-caps", "--net"];

/// Network namespaces with only loopback, one for each command a test runs in them, whose only
/// ways out are some ports of this namespace's 127.0.0.1, forwarded the way
/// `ssh -L PORT:127.0.0.1:PORT` forwards them (`tests/peers/port_forward.py`): anything else
/// the command tries to reach, another machine or another port here, is not there.
pub struct Forwards {
    netns: NetNamespace,
    server: Child,
    pairs: Vec<(u16, PathBuf)>,
}

impl Drop for Forwards {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

impl Forwards {
    /// Starts this namespace's half of the forwards of `ports`, its Unix sockets in `dir`.
    pub fn start(netns: NetNamespace, dir: &Path, ports: &[u16]) -> Self {
        let pairs: Vec<(u16, PathBuf)> = ports
            .iter()
            .map(|&port| (port, dir.join(format!("forward-{port}.sock"))))
            .collect();
        let mut command = Command::new(crate::peer_python());
        command
            .arg(crate::peer_script("port_forward.py"))
            .arg("server");
        for (port, socket) in &pairs {
            command
                .arg("--serve")
                .arg(format!("{}={port}", socket.display()));
        }
        let mut server = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("start this namespace's half of the forwards");
        let mut ready = String::new();
        std::io::BufReader::new(server.stdout.take().expect("its stdout"))
            .read_line(&mut ready)
            .expect("read whether the forwards are ready");
        assert_eq!(ready.trim(), "ready", "the forwards did not start");
        Self {
            netns,
            server,
            pairs,
        }
    }

    /// `inner` (its program, arguments, folder and environment, which is only what it sets, as
    /// for a [`crate::Sandbox`] command) run in a network namespace of its own with the forwards.
    /// It keeps running as this process's user, with the same standard streams, and its exit
    /// status is the command's.
    pub fn wrap(&self, inner: &Command) -> Command {
        let vars: Vec<(String, String)> = inner
            .get_envs()
            .filter_map(|(k, v)| {
                Some((
                    k.to_string_lossy().into_owned(),
                    v?.to_string_lossy().into_owned(),
                ))
            })
            .collect();
        let mut command = self.netns.command();
        command
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .arg(crate::peer_python())
            .arg(crate::peer_script("port_forward.py"))
            .arg("laptop");
        for (port, socket) in &self.pairs {
            command
                .arg("--forward")
                .arg(format!("{port}={}", socket.display()));
        }
        command
            .arg("--")
            .args(
                self.netns
                    .back_to_this_user(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            )
            .arg(inner.get_program())
            .args(inner.get_args());
        if let Some(dir) = inner.get_current_dir() {
            command.current_dir(dir);
        }
        command
    }
}
