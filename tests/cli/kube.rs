//! EKS access end to end with the real kubectl: `ssobar kubeconfig` writes the kubeconfig,
//! kubectl runs `ssobar eks-token`, and a loopback API server checks each token's SigV4
//! signature with STS (ssobar-fake-aws) as aws-iam-authenticator's server does.

use crate::SSOBAR;
use base64::Engine;
use serde_json::Value;
use ssobar_fake_aws::{FakeCluster, FakeConfig, Operation};
use ssobar_testkit::{
    BrowserMode, KubeApiServer, Ran, World, botocore, require_secret_service, secret_tool_search,
};
use std::path::PathBuf;

struct Cluster {
    w: World,
    server: KubeApiServer,
    kubeconfig: PathBuf,
}

/// A signed-in world, an API server for cluster `prod`, and a kubeconfig for it.
fn cluster(config: FakeConfig) -> Cluster {
    let w = World::signed_in(SSOBAR, config);
    let server = KubeApiServer::start(w.sandbox.home(), "prod", w.fake.url());
    let kubeconfig = w.kubeconfig_for(&server);
    Cluster {
        w,
        server,
        kubeconfig,
    }
}

fn kubectl(c: &Cluster, args: &[&str]) -> Ran {
    Ran::run(
        c.w.sandbox
            .command("kubectl")
            .env("KUBECONFIG", &c.kubeconfig)
            .args(args),
    )
}

/// `kubectl get --raw /version` against the cluster's server with `token`, not the kubeconfig.
fn kubectl_with_token(c: &Cluster, token: &str) -> Ran {
    Ran::run(c.w.sandbox.command("kubectl").args([
        "--server",
        &c.server.url,
        "--certificate-authority",
        c.server.ca_file.to_str().unwrap(),
        "--token",
        token,
        "get",
        "--raw",
        "/version",
    ]))
}

/// Runs `ssobar ARGS` (an `eks-token` command) and returns the ExecCredential's token.
fn eks_token(w: &World, args: &[&str]) -> String {
    w.ssobar(args).success().json()["status"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn kubectl_reaches_the_cluster_with_a_kubeconfig_from_ssobar() {
    let c = cluster(FakeConfig::default());
    let ran = kubectl(&c, &["get", "--raw", "/version"]).success();
    let version: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(version["gitVersion"], "v1.31.0-eks-stand-in");
    let caller = version["caller"].as_str().unwrap();
    assert!(
        caller.starts_with("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnlyAccess_"),
        "{caller}"
    );
    let requests = c.server.requests();
    assert!(requests.iter().all(|r| r["ok"] == true), "{requests:?}");
    let logged: Vec<_> =
        c.w.fake
            .requests()
            .into_iter()
            .filter(|r| r.operation == Operation::GetCallerIdentity)
            .collect();
    assert!(!logged.is_empty());
    assert!(
        logged
            .iter()
            .all(|r| r.k8s_aws_id.as_deref() == Some("prod"))
    );
}

#[test]
fn tampered_foreign_and_expired_tokens_are_refused() {
    let c = cluster(FakeConfig::default());
    let token = |cluster: &str| {
        eks_token(
            &c.w,
            &["eks-token", "--profile", "dev", "--cluster-id", cluster],
        )
    };
    let good = token("prod");
    kubectl_with_token(&c, &good).success();

    // The same request with one digit of its signature changed.
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let url =
        String::from_utf8(b64.decode(good.trim_start_matches("k8s-aws-v1.")).unwrap()).unwrap();
    let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[at..=at] == "0" { "1" } else { "0" };
    let tampered = format!(
        "k8s-aws-v1.{}",
        b64.encode(format!("{}{flipped}{}", &url[..at], &url[at + 1..]))
    );
    let ran = kubectl_with_token(&c, &tampered).expect_code(1);
    assert!(ran.stderr.contains("Unauthorized"), "{}", ran.stderr);

    let foreign = token("staging");
    let ran = kubectl_with_token(&c, &foreign).expect_code(1);
    assert!(ran.stderr.contains("Unauthorized"), "{}", ran.stderr);

    // A token signed 16 minutes ago, with the same credentials.
    let creds =
        c.w.ssobar(&["credential-process", "--profile", "dev"])
            .success()
            .json();
    let credentials = ssobar_core::creds::AwsCredentials {
        access_key_id: creds["AccessKeyId"].as_str().unwrap().into(),
        secret_access_key: creds["SecretAccessKey"].as_str().unwrap().into(),
        session_token: Some(creds["SessionToken"].as_str().unwrap().into()),
        expiration: creds["Expiration"].as_str().unwrap().parse().unwrap(),
    };
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(16);
    let expired =
        ssobar_core::kube::eks::presign(&credentials, "prod", "us-east-1", c.w.fake.url(), old)
            .unwrap();
    let ran = kubectl_with_token(&c, &expired.token).expect_code(1);
    assert!(ran.stderr.contains("Unauthorized"), "{}", ran.stderr);
    let refused = c
        .server
        .requests()
        .iter()
        .filter(|r| r["ok"] == false)
        .count();
    assert_eq!(refused, 3);
}

#[test]
fn fifty_kubectls_at_once_make_one_portal_call() {
    let c = cluster(FakeConfig {
        latency_ms: 100,
        ..FakeConfig::default()
    });
    let children: Vec<_> = (0..50)
        .map(|_| {
            c.w.sandbox
                .command("kubectl")
                .env("KUBECONFIG", &c.kubeconfig)
                .args(["get", "--raw", "/version"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        Ran::wait(child).success();
    }
    assert_eq!(c.w.calls(Operation::GetRoleCredentials), 1);
    assert!(c.server.requests().len() >= 50);
}

#[test]
fn the_exec_credential_follows_kubernetes_exec_info() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let run = |info: Option<&str>| {
        let mut cmd = w.command();
        cmd.args(["eks-token", "--profile", "dev", "--cluster-id", "prod"]);
        if let Some(info) = info {
            cmd.env("KUBERNETES_EXEC_INFO", info);
        }
        let ran = Ran::run(&mut cmd).success();
        (ran.json(), ran.stderr)
    };
    let info = |v: &str| {
        format!(
            r#"{{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/{v}","spec":{{"interactive":false}}}}"#
        )
    };
    for (given, answered, warned) in [
        (Some(info("v1")), "client.authentication.k8s.io/v1", false),
        (
            Some(info("v1beta1")),
            "client.authentication.k8s.io/v1beta1",
            false,
        ),
        (
            Some(info("v1alpha1")),
            "client.authentication.k8s.io/v1alpha1",
            true,
        ),
        (
            Some("{garbage".to_owned()),
            "client.authentication.k8s.io/v1beta1",
            true,
        ),
        (None, "client.authentication.k8s.io/v1beta1", false),
    ] {
        let (json, stderr) = run(given.as_deref());
        assert_eq!(json["apiVersion"], answered, "{given:?}");
        assert_eq!(json["kind"], "ExecCredential");
        assert_eq!(json["spec"], serde_json::json!({}));
        assert!(
            json["status"]["token"]
                .as_str()
                .unwrap()
                .starts_with("k8s-aws-v1.")
        );
        assert_eq!(!stderr.is_empty(), warned, "{given:?}: {stderr}");
    }
}

#[test]
fn tokens_are_reused_and_dropped_when_credentials_change() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let token = || {
        let json = w
            .ssobar(&["eks-token", "--profile", "dev", "--cluster-id", "prod"])
            .success()
            .json();
        (
            json["status"]["token"].as_str().unwrap().to_owned(),
            json["status"]["expirationTimestamp"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };
    let (first, expiry) = token();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (second, _) = token();
    assert_eq!(first, second, "reused from the cache, not signed again");
    let signed: jiff::Timestamp = expiry.parse().unwrap();
    let left = signed.duration_since(jiff::Timestamp::now()).as_secs();
    assert!(
        (12 * 60..=14 * 60).contains(&left),
        "expiry 14 minutes after signing: {left}s"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = w.sandbox.home().join(".run/ssobar/eks");
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    // Sign-out deletes the credentials: the cached token goes with them.
    w.ssobar(&["logout", "--profile", "dev"]).success();
    let ran = w
        .ssobar(&["eks-token", "--profile", "dev", "--cluster-id", "prod"])
        .expect_code(1);
    assert!(ran.stderr.contains("is not signed in"), "{}", ran.stderr);
}

#[test]
fn new_credentials_retire_old_tokens() {
    // Four-minute credentials are inside the five-minute margin: any credential call renews them.
    let w = World::signed_in(
        SSOBAR,
        FakeConfig {
            role_credentials_lifetime_seconds: 240,
            ..FakeConfig::default()
        },
    );
    let token = || {
        eks_token(
            &w,
            &["eks-token", "--profile", "dev", "--cluster-id", "prod"],
        )
    };
    let first = token();
    assert_eq!(token(), first, "still valid for four minutes: reused");
    w.ssobar(&["credential-process", "--profile", "dev"])
        .success();
    assert_eq!(w.calls(Operation::GetRoleCredentials), 2);
    let renewed = token();
    assert_ne!(renewed, first, "made from the new credentials");
}

#[test]
fn botocore_signs_the_same_request_to_the_same_signature() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let token = eks_token(
        &w,
        &[
            "eks-token",
            "--profile",
            "dev",
            "--cluster-id",
            "prod",
            "--region",
            "eu-west-1",
        ],
    );
    let creds = w
        .ssobar(&["credential-process", "--profile", "dev"])
        .success();
    let creds_file = w.sandbox.home().join("creds.json");
    std::fs::write(&creds_file, &creds.stdout).unwrap();
    let seen = botocore(
        &w.sandbox,
        &[
            "verify-eks-token",
            "--token",
            &token,
            "--cluster-id",
            "prod",
            "--credentials",
            creds_file.to_str().unwrap(),
        ],
    );
    assert_eq!(seen["botocore"], seen["ssobar"], "{seen}");
    assert_eq!(seen["signedHeaders"], "host;x-k8s-aws-id");
    assert_eq!(seen["expires"], "60");
    std::fs::remove_file(&creds_file).unwrap();
}

#[test]
fn an_expired_session_fails_at_once_with_one_line_and_no_browser() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    // No refresh token, no app, no terminal: nothing may sign in.
    w.seed_sign_in_with(-60, &[]);
    let started = std::time::Instant::now();
    let ran = w
        .ssobar(&["eks-token", "--profile", "dev", "--cluster-id", "prod"])
        .expect_code(1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "failed after {:?}",
        started.elapsed()
    );
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("run \"ssobar login --sso-session {}\"", w.session)),
        "{}",
        ran.stderr
    );
    assert!(w.browser.opened().is_empty());
}

/// A process of another user, killed when the test ends.
struct OtherUser(std::process::Child);

impl Drop for OtherUser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn another_user_cannot_pose_as_the_app_in_a_runtime_folder_others_may_write() {
    use std::io::BufRead;
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    w.seed_sign_in_with(-60, &[]);
    // XDG_RUNTIME_DIR where anyone may write, as /tmp is.
    let shared = tempfile::Builder::new()
        .prefix("ssobar-shared-run.")
        .tempdir()
        .unwrap();
    crate::chmod(shared.path(), 0o1777);
    // Another user makes ssobar's folder there first and answers on the app's socket with
    // text of its choosing.
    let impostor = r#"
import os, socket, sys
d = os.path.join(sys.argv[1], "ssobar")
os.mkdir(d)
os.chmod(d, 0o777)
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.join(d, "app.sock"))
os.chmod(os.path.join(d, "app.sock"), 0o777)
s.listen()
print("listening", flush=True)
while True:
    c, _ = s.accept()
    open(os.path.join(d, "connected"), "a").write("x")
    c.makefile().readline()
    c.sendall(b'{"v":1,"type":"failed","why":"sign-in-failed","detail":"IMPOSTOR: type your password at evil.example"}\n')
    c.close()
"#;
    let mut other = OtherUser(
        std::process::Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "/usr/bin/python3",
                "-c",
                impostor,
            ])
            .arg(shared.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut said = String::new();
    std::io::BufReader::new(other.0.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(said.trim(), "listening", "the other user's server started");

    let ran = Ran::run(
        w.command()
            .args(["eks-token", "--profile", "dev", "--cluster-id", "prod"])
            .env("XDG_RUNTIME_DIR", shared.path()),
    )
    .expect_code(1);
    let folder = shared.path().join("ssobar");
    assert!(!ran.stderr.contains("IMPOSTOR"), "{}", ran.stderr);
    assert!(
        !folder.join("connected").exists(),
        "the helper did not connect"
    );
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", ran.stderr);
    assert!(
        lines[0].starts_with(&format!(
            "ssobar: not using ssobar-app: {} belongs to uid 65534",
            folder.display()
        )),
        "{}",
        ran.stderr
    );
    assert!(
        lines[0].contains(&format!("chmod 700 {}", folder.display())),
        "{}",
        ran.stderr
    );
    assert!(
        lines[1].contains(&format!("run \"ssobar login --sso-session {}\"", w.session)),
        "{}",
        ran.stderr
    );
    assert!(w.browser.opened().is_empty());
}

/// The real kubectl, run from a terminal (a pseudo-terminal made by `script`) for its stdin
/// and stdout, with its stderr in a file: so ssobar's own stderr is no terminal, and only
/// kubectl passing its terminal on (`interactiveMode: IfAvailable`, `spec.interactive`) can
/// tell it a person is there. Answers whether kubectl succeeded, what the terminal showed and
/// kubectl's stderr (ssobar's lines among it).
fn kubectl_on_a_terminal(w: &World, kubeconfig: &std::path::Path) -> (bool, String, String) {
    let stderr = w.sandbox.home().join("kubectl.stderr");
    let line = format!(
        "kubectl --kubeconfig '{}' get --raw /version 2>'{}'",
        kubeconfig.display(),
        stderr.display()
    );
    let ran = w
        .sandbox
        .command("script")
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .output()
        .unwrap();
    (
        ran.status.success(),
        String::from_utf8_lossy(&ran.stdout).into_owned(),
        std::fs::read_to_string(&stderr).unwrap(),
    )
}

#[test]
fn kubectl_passing_its_terminal_lets_eks_token_sign_in_itself() {
    require_secret_service();
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Follow);
    // Expired, and no refresh token: only a browser sign-in helps.
    w.seed_sign_in_with(-60, &[]);
    let server = KubeApiServer::start(w.sandbox.home(), "prod", w.fake.url());
    let kubeconfig = w.kubeconfig_for(&server);

    // Without a terminal, kubectl passes none: the one line, at once, and no browser.
    let ran = Ran::run(w.sandbox.command("kubectl").args([
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "get",
        "--raw",
        "/version",
    ]))
    .expect_code(1);
    assert!(
        ran.stderr
            .contains(&format!("run \"ssobar login --sso-session {}\"", w.session)),
        "{}",
        ran.stderr
    );
    assert!(w.browser.opened().is_empty());

    let (ok, shown, stderr) = kubectl_on_a_terminal(&w, &kubeconfig);
    assert!(ok, "{shown}\n{stderr}");
    assert!(shown.contains("v1.31.0-eks-stand-in"), "{shown}");
    assert!(stderr.contains("Opened the sign-in page"), "{stderr}");
    assert_eq!(w.browser.opened().len(), 1);
    assert_eq!(w.calls(Operation::Authorize), 1);
    assert!(
        w.token().unwrap()["expiresAt"].as_str().unwrap() > ssobar_testkit::utc_in(3600).as_str(),
        "a new sign-in"
    );
    let requests = server.requests();
    assert!(
        !requests.is_empty() && requests.iter().all(|r| r["ok"] == true),
        "{requests:?}"
    );
}

#[test]
fn unknown_profiles_and_missing_cluster_ids() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ran = w
        .ssobar(&["eks-token", "--profile", "dve", "--cluster-id", "prod"])
        .expect_code(1);
    assert_eq!(
        ran.stderr.trim(),
        "ssobar: there is no profile dve; did you mean dev?"
    );
    let ran = w.ssobar(&["eks-token", "--profile", "dev"]).expect_code(2);
    assert!(ran.stderr.contains("--cluster-id"), "{}", ran.stderr);
}

#[test]
fn kubeconfig_merges_into_an_existing_file_and_is_idempotent() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let path = w.sandbox.home().join("kube.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://other:6443\n    x-extra: keep\ncontexts:\n- name: other\n  context:\n    cluster: other\n    user: other\n    namespace: team\ncurrent-context: other\nusers:\n- name: other\n  user:\n    token: secret-of-other\npreferences: {}\nx-unknown: {a: 1}\n",
    )
    .unwrap();
    let ca = w.sandbox.home().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let args = [
        "kubeconfig",
        "--profile",
        "dev",
        "--cluster-id",
        "prod",
        "--server",
        "https://prod.example",
        "--certificate-authority",
        ca.to_str().unwrap(),
        "--kubeconfig",
        path.to_str().unwrap(),
        "--exec-api",
        "v1",
    ];
    let first = w.ssobar(&args).success();
    assert!(
        first
            .stdout
            .starts_with("Wrote cluster prod, user dev@prod and context dev@prod")
    );
    let written = std::fs::read_to_string(&path).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&written).unwrap();
    assert_eq!(doc["x-unknown"]["a"], 1);
    assert_eq!(doc["clusters"][0]["cluster"]["x-extra"], "keep");
    assert_eq!(doc["users"][0]["user"]["token"], "secret-of-other");
    assert_eq!(doc["contexts"][0]["context"]["namespace"], "team");
    assert_eq!(doc["current-context"], "other");
    let exec = &doc["users"][1]["user"]["exec"];
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(exec["interactiveMode"], "IfAvailable");
    assert_eq!(exec["command"], SSOBAR);
    assert_eq!(
        exec["args"],
        serde_yaml_ng::to_value(["eks-token", "--profile", "dev", "--cluster-id", "prod"]).unwrap()
    );
    let ca_data = doc["clusters"][1]["cluster"]["certificate-authority-data"]
        .as_str()
        .unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(ca_data)
            .unwrap(),
        std::fs::read(&ca).unwrap()
    );

    let second = w.ssobar(&args).success();
    assert!(
        second.stdout.contains("nothing changed"),
        "{}",
        second.stdout
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn kubeconfig_asks_eks_for_the_endpoint_and_ca() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let server = KubeApiServer::start(w.sandbox.home(), "prod", w.fake.url());
    let ca_data =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&server.ca_file).unwrap());
    w.fake
        .add_cluster(FakeCluster::new("prod", &server.url, &ca_data).in_region("eu-west-1"));
    w.ssobar(&["kubeconfig", "--profile", "dev", "--cluster-id", "prod"])
        .success();
    assert_eq!(w.calls(Operation::DescribeCluster), 1);
    let ran = Ran::run(w.sandbox.command("kubectl").args([
        "--context",
        "dev@prod",
        "get",
        "--raw",
        "/version",
    ]))
    .success();
    assert!(ran.stdout.contains("v1.31.0-eks-stand-in"));
    let ran = w
        .ssobar(&["kubeconfig", "--profile", "dev", "--cluster-id", "nope"])
        .expect_code(1);
    assert!(
        ran.stderr.contains("there is no EKS cluster nope"),
        "{}",
        ran.stderr
    );
}

#[test]
fn aws_auth_maps_the_role_without_its_path_and_access_entries_with_it() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ran = w
        .ssobar(&[
            "aws-auth",
            "--profile",
            "dev",
            "--cluster-id",
            "prod",
            "--group",
            "system:masters",
        ])
        .success();
    let identity = w
        .fake
        .credentials_issued()
        .into_iter()
        .find(|c| c.issued_by == Operation::GetRoleCredentials)
        .unwrap();
    let role_name = identity.arn.split('/').nth(1).unwrap().to_owned();
    assert!(role_name.starts_with("AWSReservedSSO_ReadOnlyAccess_"));
    assert!(ran.stdout.contains(&format!(
        "- rolearn: arn:aws:iam::111122223333:role/{role_name}\n"
    )));
    assert!(
        ran.stdout
            .contains("  username: \"sso:ReadOnlyAccess:{{SessionName}}\"\n")
    );
    assert!(ran.stdout.contains("    - system:masters\n"));
    assert!(ran.stdout.contains(&format!(
        "--principal-arn arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/{role_name}"
    )));
    assert!(
        ran.stdout
            .contains("aws eks create-access-entry --cluster-name prod --region eu-west-1")
    );

    // An identity center outside us-east-1 puts its region in the path.
    w.sandbox
        .write_config(w.config_with_sso_region("eu-central-1"));
    let ran = w.ssobar(&["aws-auth", "--profile", "dev"]).success();
    assert!(ran.stdout.contains(&format!(
        "--principal-arn arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-central-1/{role_name}"
    )));
    assert!(ran.stdout.contains(&format!(
        "- rolearn: arn:aws:iam::111122223333:role/{role_name}\n"
    )));
}

#[test]
fn role_arn_assumes_the_role_first_and_keeps_it_like_a_chain() {
    let c = cluster(FakeConfig::default());
    let token = |cluster: &str| {
        eks_token(
            &c.w,
            &[
                "eks-token",
                "--profile",
                "dev",
                "--cluster-id",
                cluster,
                "--role-arn",
                "arn:aws:iam::444455556666:role/EksAdmin",
            ],
        )
    };
    let prod = token("prod");
    let ran = kubectl_with_token(&c, &prod).success();
    let version: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(
        version["caller"],
        "arn:aws:sts::444455556666:assumed-role/EksAdmin/ssobar-dev"
    );
    // Another cluster: a new token, but the assumed role's credentials come from the keychain.
    token("staging");
    assert_eq!(c.w.calls(Operation::AssumeRole), 1);
}

#[test]
fn signing_out_forgets_the_assumed_role_and_its_tokens() {
    let c = cluster(FakeConfig::default());
    let arn = "arn:aws:iam::444455556666:role/EksAdmin";
    let args = [
        "eks-token",
        "--profile",
        "dev",
        "--cluster-id",
        "prod",
        "--role-arn",
        arn,
    ];
    c.w.ssobar(&args).success();
    // No profile names this entry: only the session's index leads logout to it.
    let entry = format!("role/{}/dev as {arn}", c.w.session);
    assert!(secret_tool_search(&entry).contains(&entry));
    c.w.ssobar(&["logout", "--profile", "dev"]).success();
    assert!(!secret_tool_search(&entry).contains(&entry));
    let after = c.w.ssobar(&args).expect_code(1);
    assert!(after.stdout.is_empty(), "no token after sign-out");
    assert!(after.stderr.contains("ssobar login"), "{}", after.stderr);
}

#[test]
fn a_bad_setting_is_reported_on_stderr_and_the_token_still_printed() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ran = Ran::run(
        w.command()
            .args(["eks-token", "--profile", "dev", "--cluster-id", "prod"])
            .env("SSOBAR_CREDENTIAL_MARGIN_MINUTES", "soon"),
    )
    .success();
    assert!(
        ran.stderr.contains("ssobar: warning: ")
            && ran.stderr.contains("SSOBAR_CREDENTIAL_MARGIN_MINUTES"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.json()["kind"], "ExecCredential");
}

#[test]
fn aws_auth_with_a_group_associates_no_access_policy() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ran = w
        .ssobar(&[
            "aws-auth",
            "--profile",
            "dev",
            "--cluster-id",
            "prod",
            "--group",
            "viewers",
        ])
        .success();
    assert!(
        !ran.stdout.contains("associate-access-policy"),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains("AmazonEKS"), "{}", ran.stdout);
    assert!(ran.stdout.contains("    - viewers\n"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("--kubernetes-groups viewers\n"),
        "{}",
        ran.stdout
    );
    let said: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.contains("grants nothing until"))
        .collect();
    assert_eq!(said.len(), 1, "{}", ran.stdout);
    assert!(said[0].starts_with("# "), "{}", said[0]);
}

#[test]
fn aws_auth_prints_the_access_policy_asked_for_in_its_scope() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ran = w
        .ssobar(&[
            "aws-auth",
            "--profile",
            "dev",
            "--cluster-id",
            "prod",
            "--access-policy",
            "view",
            "--namespace",
            "team-a",
        ])
        .success();
    assert!(
        ran.stdout.contains(
            "--policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy \\\n    --access-scope type=namespace,namespaces=team-a\n"
        ),
        "{}",
        ran.stdout
    );
    let ran = w
        .ssobar(&[
            "aws-auth",
            "--profile",
            "dev",
            "--access-policy",
            "cluster-admin",
        ])
        .success();
    assert!(
        ran.stdout.contains(
            "cluster-access-policy/AmazonEKSClusterAdminPolicy \\\n    --access-scope type=cluster\n"
        ),
        "{}",
        ran.stdout
    );
}

#[test]
fn aws_auth_namespace_without_an_access_policy_is_a_one_line_usage_error() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ran = w
        .ssobar(&["aws-auth", "--profile", "dev", "--namespace", "team-a"])
        .expect_code(2);
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("ssobar aws-auth --profile dev --access-policy view --namespace team-a"),
        "{}",
        ran.stderr
    );
    assert_eq!(w.calls(Operation::GetRoleCredentials), 0);
    // An empty namespace would print `namespaces=`, which EKS refuses.
    let ran = w
        .ssobar(&[
            "aws-auth",
            "--profile",
            "dev",
            "--access-policy",
            "view",
            "--namespace",
            "",
        ])
        .expect_code(2);
    assert!(ran.stderr.contains("--namespace"), "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
}

/// A PEM file for `--certificate-authority`, so that `ssobar kubeconfig` asks EKS nothing.
fn ca_file(w: &World) -> PathBuf {
    let ca = w.sandbox.home().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    ca
}

/// `ssobar kubeconfig` arguments for cluster `cluster`, into `kubeconfig` when given.
fn kubeconfig_args(
    cluster: &str,
    ca: &std::path::Path,
    kubeconfig: Option<&std::path::Path>,
) -> Vec<String> {
    let mut args: Vec<String> = [
        "kubeconfig",
        "--profile",
        "dev",
        "--cluster-id",
        cluster,
        "--server",
        &format!("https://{cluster}.example"),
        "--certificate-authority",
        ca.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .into();
    if let Some(path) = kubeconfig {
        args.extend(["--kubeconfig".to_owned(), path.to_str().unwrap().to_owned()]);
    }
    args
}

/// The context names `kubectl config get-contexts` reads from `kubeconfig`, sorted.
fn kubectl_contexts(w: &World, kubeconfig: &std::path::Path) -> Vec<String> {
    let ran = Ran::run(
        w.sandbox
            .command("kubectl")
            .env("KUBECONFIG", kubeconfig)
            .args(["config", "get-contexts", "-o", "name"]),
    )
    .success();
    let mut names: Vec<String> = ran.stdout.lines().map(str::to_owned).collect();
    names.sort();
    names
}

/// The files in `dir` other than `keep`: temp files or locks left behind.
fn leftovers(dir: &std::path::Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[test]
fn eight_kubeconfig_runs_at_once_lose_no_context() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ca = ca_file(&w);
    let dir = w.sandbox.home().join("kube");
    std::fs::create_dir_all(&dir).unwrap();
    // A few rounds: a lost write needs two runs to overlap, which one round may not show.
    for round in 0..3 {
        let path = dir.join(format!("config-{round}"));
        let children: Vec<_> = (0..8)
            .map(|i| {
                let args = kubeconfig_args(&format!("c{i}"), &ca, Some(&path));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                w.spawn(&args)
            })
            .collect();
        for child in children {
            Ran::wait(child).success();
        }
        let expected: Vec<String> = (0..8).map(|i| format!("dev@c{i}")).collect();
        assert_eq!(kubectl_contexts(&w, &path), expected, "round {round}");
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["clusters"].as_sequence().unwrap().len(), 8);
        assert_eq!(doc["users"].as_sequence().unwrap().len(), 8);
    }
    let left = leftovers(&dir, &["config-0", "config-1", "config-2"]);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_kubeconfig_locked_by_kubectl_is_written_once_the_lock_is_gone() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ca = ca_file(&w);
    let path = w.sandbox.home().join("kube.yaml");
    let lock = w.sandbox.home().join("kube.yaml.lock");
    std::fs::write(&lock, "").unwrap();
    let args = kubeconfig_args("prod", &ca, Some(&path));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = w.spawn(&args);
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert!(child.try_wait().unwrap().is_none(), "it waits for the lock");
    assert!(
        !path.exists(),
        "nothing written while kubectl holds the lock"
    );
    std::fs::remove_file(&lock).unwrap();
    Ran::wait(child).success();
    assert_eq!(kubectl_contexts(&w, &path), ["dev@prod"]);
    assert!(!lock.exists());
}

#[test]
fn a_stale_kubeconfig_lock_fails_with_one_line_naming_it() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ca = ca_file(&w);
    let path = w.sandbox.home().join("kube.yaml");
    let lock = w.sandbox.home().join("kube.yaml.lock");
    std::fs::write(&lock, "").unwrap();
    let args = kubeconfig_args("prod", &ca, Some(&path));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ran = w.ssobar(&args).expect_code(1);
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("if none is running, delete {}", lock.display())),
        "{}",
        ran.stderr
    );
    assert!(lock.exists(), "another writer's lock is left alone");
    assert!(!path.exists());
}

#[cfg(unix)]
#[test]
fn a_symlinked_kubeconfig_is_written_through_to_its_target() {
    let w = World::signed_in(SSOBAR, FakeConfig::default());
    let ca = ca_file(&w);
    let home = w.sandbox.home();
    let dotfiles = home.join("dotfiles");
    std::fs::create_dir_all(&dotfiles).unwrap();
    std::fs::create_dir_all(home.join(".kube")).unwrap();
    let target = dotfiles.join("kubeconfig");
    std::fs::write(
        &target,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://other:6443\ncontexts:\n- name: other\n  context:\n    cluster: other\n    user: other\ncurrent-context: other\nusers:\n- name: other\n  user:\n    token: t\n",
    )
    .unwrap();
    let link = home.join(".kube/config");
    std::os::unix::fs::symlink("../dotfiles/kubeconfig", &link).unwrap();
    // No --kubeconfig: the default ~/.kube/config, as most people have it.
    let args = kubeconfig_args("prod", &ca, None);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ran = w.ssobar(&args).success();
    assert!(ran.stdout.starts_with("Wrote "), "{}", ran.stdout);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        PathBuf::from("../dotfiles/kubeconfig")
    );
    assert_eq!(kubectl_contexts(&w, &target), ["dev@prod", "other"]);
    assert_eq!(kubectl_contexts(&w, &link), ["dev@prod", "other"]);
    assert!(leftovers(&dotfiles, &["kubeconfig"]).is_empty());
    assert!(leftovers(&home.join(".kube"), &["config"]).is_empty());
}
