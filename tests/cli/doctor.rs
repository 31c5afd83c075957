//! `ssobar doctor`: the seed's hand-built chain (a legacy SSO profile, aws-vault,
//! aws-iam-authenticator in the kubeconfig's exec) found, moved over by `--fix` with every
//! other byte and entry as it was, and then the real kubectl and botocore working through
//! ssobar for the same account and role, and `doctor` exiting 0; `--json`; what it cannot move
//! named and left; the machine's lines.

use crate::SSOBAR;
use crate::setup::{Fresh, snapshot};
use base64::Engine;
use serde_json::Value;
use ssobar_testkit::{KubeApiServer, Ran, botocore, require_secret_service, workspace_root};

/// The seed's AWS config and kubeconfig (tests/fixtures/seed), filled in for this fake: the
/// legacy profile signs in to the fake's portal as account 100000000000's Admin, and kubectl's
/// user runs aws-vault and aws-iam-authenticator for the cluster the API server stands for.
fn seed(f: &Fresh, server: &KubeApiServer) -> (String, String) {
    let dir = workspace_root().join("tests/fixtures/seed");
    let config = std::fs::read_to_string(dir.join("config"))
        .unwrap()
        .replace("{START_URL}", &f.start_url())
        .replace("{ACCOUNT_ID}", "100000000000")
        .replace("{ROLE}", "Admin");
    let ca =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&server.ca_file).unwrap());
    let kubeconfig = std::fs::read_to_string(dir.join("kubeconfig.yaml"))
        .unwrap()
        .replace("{SERVER}", &server.url)
        .replace("{CA_DATA}", &ca)
        .replace("{CLUSTER}", &server.cluster_id);
    (config, kubeconfig)
}

/// botocore's own resolution of each profile's SSO settings (its SSO credential provider's).
fn resolved(f: &Fresh, profiles: &[&str]) -> Value {
    let mut args = vec!["sso-config"];
    for p in profiles {
        args.extend(["--profile", p]);
    }
    botocore(&f.sandbox, &args)
}

#[test]
fn the_seed_s_chain_is_moved_over_and_kubectl_and_botocore_work_through_ssobar() {
    require_secret_service();
    let f = Fresh::start(1);
    let server = KubeApiServer::start(f.sandbox.home(), "eks-cluster-name", f.fake.url());
    let (seed_config, seed_kubeconfig) = seed(&f, &server);
    // The seed's profile, and one whose credential_process asks aws-vault for it.
    let config = format!(
        "{seed_config}\n[profile vault-admin]\ncredential_process = aws-vault exec --json sso-profile\nregion = eu-west-1\n"
    );
    f.sandbox.write_config(&config);
    let kubeconfig = f.sandbox.home().join(".kube/config");
    std::fs::create_dir_all(kubeconfig.parent().unwrap()).unwrap();
    std::fs::write(&kubeconfig, &seed_kubeconfig).unwrap();
    let before = resolved(&f, &["sso-profile"]);
    assert_eq!(before["sso-profile"]["sso_account_id"], "100000000000");
    assert_eq!(before["sso-profile"]["sso_role_name"], "Admin");

    let found = f.ssobar(&["doctor"]).expect_code(1);
    let needs: Vec<&str> = found
        .stdout
        .lines()
        .filter(|l| l.starts_with("needs doing:"))
        .collect();
    assert_eq!(
        needs,
        [
            format!(
                "needs doing: profile sso-profile signs in to {} with an sso_start_url of its own (no sso-session): no refresh token, a sign-in every 8 hours; run \"ssobar doctor --fix\"",
                f.start_url()
            ),
            format!(
                "needs doing: profile vault-admin gets credentials from aws-vault; ssobar can serve the same role: credential_process = {SSOBAR} credential-process --profile sso-profile; run \"ssobar doctor --fix\""
            ),
            "needs doing: kubeconfig user user-entry-name gets its token from aws-vault and aws-iam-authenticator (profile sso-profile, cluster eks-cluster-name); ssobar eks-token can, with no other tool; run \"ssobar doctor --fix\"".to_owned(),
        ],
        "{}",
        found.stdout
    );
    assert!(
        found
            .stdout
            .ends_with("3 things need doing; \"ssobar doctor --fix\" does it.\n"),
        "{}",
        found.stdout
    );

    let fixed = f.ssobar(&["doctor", "--fix"]).success();
    let session = format!("127.0.0.1-{}", f.fake.port());
    assert!(
        fixed.stdout.starts_with(&format!(
            "fixed: added [sso-session {session}] for {url} and pointed sso-profile at [sso-session {session}]; sign in to it once: ssobar login --sso-session {session}\n\
             fixed: profile vault-admin: credential_process = {SSOBAR} credential-process --profile sso-profile\n\
             fixed: kubeconfig user user-entry-name now runs {SSOBAR} eks-token --profile sso-profile --cluster-id eks-cluster-name\n",
            url = f.start_url()
        )),
        "{}",
        fixed.stdout
    );
    assert!(
        fixed.stdout.ends_with("Nothing needs doing.\n"),
        "{}",
        fixed.stdout
    );

    // The config: two lines became one, one line replaced, the session appended; every other
    // byte as it was.
    assert_eq!(
        f.config(),
        config
            .replace(
                &format!(
                    "sso_start_url = {}\nsso_region = us-east-1\n",
                    f.start_url()
                ),
                &format!("sso_session = {session}\n"),
            )
            .replace(
                "credential_process = aws-vault exec --json sso-profile",
                &format!("credential_process = {SSOBAR} credential-process --profile sso-profile"),
            )
            + &format!(
                "\n[sso-session {session}]\nsso_start_url = {}\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
                f.start_url()
            )
    );
    // botocore resolves the profile to the same account and role, now through the session.
    let after = resolved(&f, &["sso-profile"]);
    for key in [
        "sso_account_id",
        "sso_role_name",
        "sso_start_url",
        "sso_region",
    ] {
        assert_eq!(
            after["sso-profile"][key], before["sso-profile"][key],
            "{key}"
        );
    }
    assert_eq!(after["sso-profile"]["sso_session"], session);

    // The kubeconfig: only the user's exec changed.
    let old: Value = serde_yaml_ng::from_str(&seed_kubeconfig).unwrap();
    let new: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&kubeconfig).unwrap()).unwrap();
    for key in [
        "clusters",
        "contexts",
        "current-context",
        "apiVersion",
        "kind",
    ] {
        assert_eq!(new[key], old[key], "{key}");
    }
    assert_eq!(
        new["users"][0]["user"]["exec"],
        serde_json::json!({
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": SSOBAR,
            "args": ["eks-token", "--profile", "sso-profile", "--cluster-id", "eks-cluster-name"],
            "env": null,
            "interactiveMode": "IfAvailable",
            "provideClusterInfo": false,
        })
    );

    // One sign-in, as the fix said; then kubectl and botocore go through ssobar.
    f.ssobar(&["login", "--sso-session", &session]).success();
    let kubectl = Ran::run(f.sandbox.command("kubectl").args([
        "--context",
        "eks",
        "get",
        "--raw",
        "/version",
    ]))
    .success();
    let version: Value = serde_json::from_str(&kubectl.stdout).unwrap();
    let caller = version["caller"].as_str().unwrap();
    assert!(
        caller.starts_with("arn:aws:sts::100000000000:assumed-role/AWSReservedSSO_Admin_"),
        "{caller}"
    );
    for profile in ["sso-profile", "vault-admin"] {
        let creds = botocore(&f.sandbox, &["role-credentials", "--profile", profile]);
        let arn = creds["arn"].as_str().unwrap();
        assert!(
            arn.starts_with("arn:aws:sts::100000000000:assumed-role/AWSReservedSSO_Admin_"),
            "{profile}: {arn}"
        );
    }

    // Nothing left: doctor exits 0, and another --fix changes no byte.
    let config_before = snapshot(&f.config_path());
    let kube_before = snapshot(&kubeconfig);
    let clean = f.ssobar(&["doctor"]).success();
    assert!(
        clean.stdout.ends_with("Nothing needs doing.\n"),
        "{}",
        clean.stdout
    );
    f.ssobar(&["doctor", "--fix"]).success();
    assert_eq!(snapshot(&f.config_path()), config_before);
    assert_eq!(snapshot(&kubeconfig), kube_before);
}

#[test]
fn json_names_each_check_and_what_cannot_be_moved_is_named_and_left() {
    let f = Fresh::start(1);
    // A session without the refresh scope; a user on a profile the config lacks; a user on a
    // moved ssobar.
    let config = format!(
        "[sso-session corp]\nsso_start_url = {}\nsso_region = us-east-1\n\n[profile dev]\nsso_session = corp\nsso_account_id = 100000000000\nsso_role_name = Admin\n",
        f.start_url()
    );
    f.sandbox.write_config(&config);
    let kubeconfig = f.sandbox.home().join("kube.yaml");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nusers:\n\
         - name: gone-profile\n  user:\n    exec:\n      command: aws-vault\n      args: [exec, nobody, --, aws-iam-authenticator, token, -i, prod]\n\
         - name: moved\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: /nonexistent/old/ssobar\n      args: [eks-token, --profile, dev, --cluster-id, prod]\n",
    )
    .unwrap();
    let path = kubeconfig.to_str().unwrap();

    let ran = f
        .ssobar(&["doctor", "--json", "--kubeconfig", path])
        .expect_code(1);
    let json = ran.json();
    let checks: Vec<(&str, &str, bool)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
                f["fixable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            ("session-without-refresh-scope", "needs-doing", true),
            ("kubeconfig-user", "needs-doing", false),
            ("kubeconfig-user", "needs-doing", true),
            ("app", "info", false),
        ],
        "{json}"
    );
    assert_eq!(json["needs_doing"], 3);
    assert_eq!(json["fixed"], Value::Null);

    let fixed = f
        .ssobar(&["doctor", "--fix", "--json", "--kubeconfig", path])
        .expect_code(1);
    let json = fixed.json();
    let kinds: Vec<&str> = json["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fix"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["refresh-scope", "kubeconfig-user"], "{json}");
    // The user on a profile the config lacks is still there, named, with what to do.
    let left: Vec<&Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "needs-doing")
        .collect();
    assert_eq!(left.len(), 1, "{json}");
    assert_eq!(
        left[0]["message"],
        "kubeconfig user gone-profile gets its token from aws-vault and aws-iam-authenticator; left as it is: the AWS config has no profile nobody"
    );
    assert!(
        f.config()
            .contains("sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n")
    );
    let doc: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&kubeconfig).unwrap()).unwrap();
    assert_eq!(doc["users"][1]["user"]["exec"]["command"], SSOBAR);
    assert_eq!(doc["users"][0]["user"]["exec"]["command"], "aws-vault");
}

#[test]
fn the_machine_s_lines_say_what_is_missing_and_hide_passwords() {
    let f = Fresh::start(1);
    // A settings file anyone may write: whoever does chooses the command URLs are opened with.
    let settings = f.sandbox.home().join(".config/ssobar/settings.toml");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, "warning_minutes = 15\n").unwrap();
    crate::chmod(&settings, 0o666);
    let ran = Ran::run(
        f.sandbox
            .command(SSOBAR)
            .arg("doctor")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("BROWSER")
            .env_remove("DISPLAY")
            .env("HTTPS_PROXY", "http://me:pr0xy-s3cret@proxy.corp:3128")
            .env("AWS_CA_BUNDLE", "/nonexistent/ca.pem"),
    )
    .expect_code(1);
    assert!(!ran.stdout.contains("pr0xy-s3cret"), "{}", ran.stdout);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "needs doing: cannot use the Secret Service (D-Bus) to keep credentials: there is no D-Bus session bus; run ssobar inside a desktop session (or start one with dbus-run-session). ssobar never falls back to plain files",
            "info: no browser can be opened here (no display, no $BROWSER): sign-ins use a device code you confirm on any device; run \"ssobar login --device-code\"",
            "needs doing: AWS_CA_BUNDLE is set to /nonexistent/ca.pem, which is not a file; run \"unset AWS_CA_BUNDLE\"",
            "info: HTTPS_PROXY is set to http://me:***@proxy.corp:3128/",
            "info: the ssobar app is not running: helpers that need a sign-in sign in from the terminal; run \"ssobar-app\"",
            &format!(
                "needs doing: {path} is writable by group or others, so its browser, firefox_container, https_proxy, no_proxy and ca_bundle settings are ignored: run \"chmod 600 {path}\"",
                path = settings.display()
            ),
            "3 things need doing, by hand (see above).",
        ],
        "{}",
        ran.stdout
    );
}
