//! A remote shell uses the laptop's sign-in: the real OpenSSH (`sshd` on loopback) forwards
//! the app's channel with `ssh -R` to a second HOME that has no token, no keychain (its session
//! bus leads nowhere), no browser and no SSO profile: only the `ssobar` binary and profile
//! names. Its kubectl and botocore ask the laptop's app, which knows the request came through
//! the `ssh` client and names the host.

use super::handoff::{
    NotificationCalls, displayed_notifications, expired_world, serving_app, socket, ssobar,
};
use super::*;
use ssobar_testkit::sshd::{REMOTE_HOST, Sshd, shell_quote};
use ssobar_testkit::{KubeApiServer, Ran, peer_python, peer_script};
use std::path::PathBuf;
use std::time::Duration;

/// The remote machine's side: its HOME, with the profile names its programs use.
struct RemoteHome {
    home: PathBuf,
    agent: PathBuf,
}

impl RemoteHome {
    fn new(w: &World) -> Self {
        let home = w.sandbox.home().join("remote");
        let run = home.join("run");
        std::fs::create_dir_all(home.join(".aws")).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
        // Only names: the profile the laptop's app answers for, through credential_process.
        std::fs::write(
            home.join(".aws/config"),
            format!(
                "[profile via-ssobar]\ncredential_process = {} credential-process --profile dev\n",
                ssobar()
            ),
        )
        .unwrap();
        Self {
            agent: run.join("agent.sock"),
            home,
        }
    }

    /// `script` as the remote shell runs it: `env -i` with the remote HOME, `SSOBAR_AGENT`,
    /// no session bus, and the world's AWS endpoints (the fake, as the laptop reaches it).
    fn shell(&self, w: &World, script: &str) -> String {
        let mut vars: Vec<(String, String)> = w
            .sandbox
            .command("true")
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v?.to_str()?.to_owned())))
            .filter(|(k, _)| k.starts_with("AWS_ENDPOINT_URL") || k == "AWS_CA_BUNDLE")
            .collect();
        let home = self.home.display().to_string();
        vars.extend([
            ("HOME".to_owned(), home.clone()),
            ("XDG_RUNTIME_DIR".to_owned(), format!("{home}/run")),
            ("XDG_CONFIG_HOME".to_owned(), format!("{home}/.config")),
            ("XDG_CACHE_HOME".to_owned(), format!("{home}/.cache")),
            ("XDG_STATE_HOME".to_owned(), format!("{home}/.state")),
            ("SSOBAR_AGENT".to_owned(), self.agent.display().to_string()),
            (
                "DBUS_SESSION_BUS_ADDRESS".to_owned(),
                "unix:path=/nonexistent/bus".to_owned(),
            ),
            ("PATH".to_owned(), std::env::var("PATH").unwrap()),
            ("KUBECONFIG".to_owned(), format!("{home}/kubeconfig")),
        ]);
        let assignments: Vec<String> = vars
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        // The forwarded socket appears once sshd has bound it.
        let wait = format!(
            "for i in $(seq 100); do [ -S {agent} ] && break; sleep 0.1; done; ",
            agent = shell_quote(&self.agent.display().to_string())
        );
        format!(
            "cd {} && env -i {} sh -c {}",
            shell_quote(&home),
            assignments.join(" "),
            shell_quote(&format!("{wait}{script}"))
        )
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.home.join(name)).unwrap_or_default()
    }
}

/// `ssh -R REMOTE_SOCKET:LAPTOP_SOCKET devbox SCRIPT`, started in the background.
fn forwarding(sshd: &Sshd, w: &World, remote: &RemoteHome, script: &str) -> Child {
    let forward = format!("{}:{}", remote.agent.display(), socket(w).display());
    sshd.ssh(&["-R", &forward, "-o", "ExitOnForwardFailure=yes"])
        .arg(remote.shell(w, script))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_remote_shell_signs_in_through_the_laptops_app_with_one_click_and_its_programs_go_on() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let w = expired_world(BrowserMode::Follow);
    let server = KubeApiServer::start(w.sandbox.home(), "prod", w.fake.url());
    let kubeconfig = std::fs::read_to_string(w.kubeconfig_for(&server)).unwrap();
    let remote = RemoteHome::new(&w);
    std::fs::write(remote.home.join("kubeconfig"), kubeconfig).unwrap();
    let Some(sshd) = Sshd::start(
        w.sandbox.home(),
        "a_remote_shell_signs_in_through_the_laptops_app",
    ) else {
        return;
    };
    let notifications = NotificationCalls::start(w.sandbox.home());
    let _app = serving_app(&w);

    let script = format!(
        "kubectl get --raw /version >kubectl.out 2>kubectl.err & \
         {} {} role-credentials --profile via-ssobar >botocore.out 2>botocore.err & wait",
        shell_quote(&peer_python().display().to_string()),
        shell_quote(&peer_script("botocore_peer.py").display().to_string()),
    );
    let ssh = forwarding(&sshd, &w, &remote, &script);

    let asked = wait_for(30, || (displayed_notifications() >= 1).then_some(()));
    assert!(asked.is_some(), "a notification; sshd said: {}", sshd.log());
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        displayed_notifications(),
        1,
        "one notification for both programs"
    );
    assert!(
        notifications.text().contains(&format!("on {REMOTE_HOST}")),
        "the notification names the host: {}",
        notifications.text()
    );
    assert!(w.browser.opened().is_empty(), "no browser before the click");
    let clicked = Command::new("dunstctl").args(["action", "0"]).status();
    assert!(clicked.unwrap().success());

    let ran = Ran::wait(ssh);
    assert_eq!(ran.code, Some(0), "ssh: {}", ran.stderr);
    assert!(
        remote.read("kubectl.out").contains("v1.31.0-eks-stand-in"),
        "kubectl: {}",
        remote.read("kubectl.err")
    );
    assert!(
        remote
            .read("botocore.out")
            .contains("AWSReservedSSO_ReadOnlyAccess_"),
        "botocore: {}",
        remote.read("botocore.err")
    );
    assert!(server.requests().iter().all(|r| r["ok"] == true));
    assert_eq!(w.calls(Operation::CreateToken), 1, "one sign-in");
    assert_eq!(w.browser.opened().len(), 1, "the laptop's browser, once");
    assert_eq!(
        displayed_notifications(),
        0,
        "no question after the sign-in"
    );

    // The laptop's access log names the host; the remote machine kept nothing of its own.
    let log = w.ssobar(&["log", "--json"]).success().stdout;
    let handed: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|r: &serde_json::Value| r["outcome"] == "handed-out")
        .collect();
    assert_eq!(handed.len(), 2, "{log}");
    assert!(handed.iter().all(|r| r["host"] == REMOTE_HOST), "{log}");
    assert!(
        !remote.home.join(".aws/sso").exists(),
        "no token on the remote"
    );
    assert!(
        !remote.home.join(".state").exists(),
        "no access log of its own"
    );
}

#[test]
fn a_signed_in_laptop_asks_once_per_host_and_remote_requests_can_be_refused() {
    let _turn = one_app_at_a_time();
    require_desktop();
    let _ = Command::new("dunstctl").arg("close-all").status();
    let mut w = expired_world(BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    let remote = RemoteHome::new(&w);
    let Some(sshd) = Sshd::start(w.sandbox.home(), "a_signed_in_laptop_asks_once_per_host") else {
        return;
    };
    let notifications = NotificationCalls::start(w.sandbox.home());
    let app = serving_app(&w);
    let helper = format!(
        "{} credential-process --profile dev",
        shell_quote(&ssobar())
    );

    // Signed in: the question names the program and the host; a click allows it for an hour.
    let first = forwarding(&sshd, &w, &remote, &helper);
    let asked = wait_for(30, || (displayed_notifications() >= 1).then_some(()));
    assert!(asked.is_some(), "a question; sshd said: {}", sshd.log());
    assert!(
        notifications
            .text()
            .contains(&format!("on {REMOTE_HOST} wants dev")),
        "{}",
        notifications.text()
    );
    let clicked = Command::new("dunstctl").args(["action", "0"]).status();
    assert!(clicked.unwrap().success());
    let ran = Ran::wait(first);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let _ = Command::new("dunstctl").arg("close-all").status();
    let again = Ran::wait(forwarding(&sshd, &w, &remote, &helper));
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(displayed_notifications(), 0, "asked again within the hour");

    // Refused in the settings: one line, and nothing handed out.
    drop(app);
    w.sandbox.set_env("SSOBAR_REMOTE_REQUESTS", "refuse");
    let _app = serving_app(&w);
    let refused = Ran::wait(forwarding(&sshd, &w, &remote, &helper));
    assert_eq!(refused.code, Some(1), "{}", refused.stdout);
    assert!(refused.stdout.is_empty());
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("no requests from remote shells"),
        "{}",
        refused.stderr
    );
}
