//! The few tests that need root (a private mount namespace with `unshare --mount`, another
//! user with `setpriv`) get it by being root or through passwordless `sudo`; with neither they
//! skip, saying on the terminal which test and why (the README lists them).

use std::io::Write;
use std::process::{Command, Stdio};

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
    /// `unshare --user --map-root-user --net`: no privilege needed where the kernel lets
    /// users have namespaces; the program runs as this user.
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
            .args(["--user", "--map-root-user", "--net", "true"])
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
                command.args(["--user", "--map-root-user", "--net"]);
                command
            }
        }
    }
}
