//! The real OpenSSH server on loopback, for the remote-shell tests: a throwaway host key and
//! user key, public-key login as the user the tests run as, Unix socket forwarding allowed.
//! What it forwards arrives through the real `ssh` client, as on a person's laptop.

use crate::root::Root;
use crate::webdriver::free_port;
use crate::{Ran, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// The host name the tests connect to; `ssh` is told it is 127.0.0.1 (`-o HostName`), so its
/// command line names a host as a person's would.
pub const REMOTE_HOST: &str = "devbox";

/// A running `sshd`, stopped when dropped.
pub struct Sshd {
    child: Child,
    port: u16,
    key: PathBuf,
    known_hosts: PathBuf,
    log: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    /// Starts `sshd` with its keys and config in `dir`; `None` (the test skipped, as
    /// [`Root::for_test`] says) when its privilege-separation folder is missing and cannot be
    /// made without root.
    pub fn start(dir: &Path, test: &str) -> Option<Self> {
        let keygen = |path: &Path| {
            Ran::run(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(path),
            )
            .success();
        };
        let host_key = dir.join("ssh_host_ed25519_key");
        let key = dir.join("id_ed25519");
        keygen(&host_key);
        keygen(&key);
        let authorized = dir.join("authorized_keys");
        std::fs::copy(dir.join("id_ed25519.pub"), &authorized).expect("authorized_keys");
        // sshd refuses to start without its privilege-separation folder, which the package
        // makes only when its service starts.
        if !Path::new("/run/sshd").is_dir() {
            let root = Root::for_test(
                test,
                "to make /run/sshd, sshd's privilege-separation folder",
            )?;
            Ran::run(root.command("mkdir").args(["-p", "/run/sshd"])).success();
        }
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PidFile {}\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nAllowStreamLocalForwarding yes\n\
                 StreamLocalBindUnlink yes\nPrintMotd no\nLogLevel VERBOSE\n",
                host_key.display(),
                authorized.display(),
                dir.join("sshd.pid").display(),
            ),
        )
        .expect("sshd_config");
        let log = dir.join("sshd.log");
        // An absolute path: sshd re-executes itself for each connection.
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stderr(std::fs::File::create(&log).expect("sshd.log"))
            .spawn()
            .expect("start /usr/sbin/sshd (Debian's openssh-server)");
        let up = wait_for(10, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        assert!(
            up.is_some(),
            "sshd listens on {port}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Some(Self {
            child,
            port,
            key,
            known_hosts: dir.join("known_hosts"),
            log,
        })
    }

    /// `ssh` to [`REMOTE_HOST`] with these options before the host; the command (if any)
    /// goes after, with `.arg`.
    pub fn ssh(&self, options: &[&str]) -> Command {
        let mut command = Command::new("ssh");
        command
            .args(["-F", "/dev/null", "-i"])
            .arg(&self.key)
            .args(["-p", &self.port.to_string()])
            .args(["-o", "HostName=127.0.0.1", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(options)
            .arg(REMOTE_HOST);
        command
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `text` quoted for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
