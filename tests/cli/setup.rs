//! `ssobar setup`: from an empty HOME and a start URL to a session that refreshes, a profile
//! for every account and role that botocore can use, and with `--clusters` a context the real
//! kubectl reaches a cluster through; a second run changes no byte; a vanity URL followed to
//! the portal; bad input refused in one line before anything is written.

use crate::SSOBAR;
use base64::Engine;
use ssobar_fake_aws::{FakeAccount, FakeAws, FakeCluster, FakeConfig, Operation};
use ssobar_testkit::{
    BrowserMode, KubeApiServer, Ran, Sandbox, ScriptedBrowser, botocore, require_secret_service,
    sha1_hex,
};
use std::path::PathBuf;

const ROLES: [&str; 3] = ["Admin", "Billing", "ReadOnly"];

/// A fake AWS and a HOME with nothing in it: no `~/.aws`, no `~/.kube`. Its person reaches
/// `accounts` accounts (`100000000000`, ...), each with the roles Admin, Billing and ReadOnly.
pub(crate) struct Fresh {
    pub(crate) fake: FakeAws,
    pub(crate) sandbox: Sandbox,
    pub(crate) browser: ScriptedBrowser,
    /// A session name of this test's own, so that parallel tests share no keychain entry.
    pub(crate) session: String,
}

impl Fresh {
    pub(crate) fn start(accounts: usize) -> Self {
        let fake = FakeAws::start(FakeConfig {
            accounts: FakeAccount::generated(accounts, &ROLES),
            ..FakeConfig::default()
        })
        .unwrap();
        let mut sandbox = Sandbox::new();
        for (k, v) in fake.endpoint_env() {
            sandbox.set_env(k, v);
        }
        let browser = ScriptedBrowser::new(sandbox.home(), BrowserMode::Follow);
        sandbox.set_env("BROWSER", browser.command());
        let session = format!("corp{}", fake.port());
        Self {
            fake,
            sandbox,
            browser,
            session,
        }
    }

    pub(crate) fn start_url(&self) -> String {
        format!("{}/start", self.fake.url())
    }

    pub(crate) fn ssobar(&self, args: &[&str]) -> Ran {
        Ran::run(self.sandbox.command(SSOBAR).args(args))
    }

    /// `ssobar setup` for this fake's portal and session, with `extra` arguments.
    fn setup(&self, extra: &[&str]) -> Ran {
        let url = self.start_url();
        let mut args = vec![
            "setup",
            "--start-url",
            &url,
            "--sso-region",
            "us-east-1",
            "--name",
            &self.session,
        ];
        args.extend_from_slice(extra);
        self.ssobar(&args)
    }

    pub(crate) fn config_path(&self) -> PathBuf {
        self.sandbox.home().join(".aws/config")
    }

    pub(crate) fn config(&self) -> String {
        std::fs::read_to_string(self.config_path()).unwrap()
    }

    fn token_path(&self) -> PathBuf {
        self.sandbox.token_path(&self.session)
    }

    fn token(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.token_path()).unwrap()).unwrap()
    }
}

/// A file's bytes (as their SHA-1, so that a failure stays readable), inode and mtime: what
/// tells a write from none.
pub(crate) fn snapshot(path: &std::path::Path) -> (String, u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    let bytes = std::fs::read(path).unwrap();
    (
        sha1_hex(&String::from_utf8_lossy(&bytes)),
        meta.ino(),
        meta.modified().unwrap(),
    )
}

#[test]
fn from_an_empty_home_setup_writes_a_session_that_refreshes_and_a_profile_for_every_role() {
    let f = Fresh::start(40);
    assert!(!f.sandbox.home().join(".aws").exists());

    let ran = f.setup(&[]).success();
    let path = f.config_path();
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "Added [sso-session {}] for {} (us-east-1) to {}.",
            f.session,
            f.start_url(),
            path.display()
        )
    );
    assert!(
        lines[1].starts_with(&format!("Signed in to {} until ", f.session)),
        "{}",
        ran.stdout
    );
    assert_eq!(
        lines[2],
        format!(
            "Added 120 profiles, updated 0, kept 0, removed 0 in {} (sso-session {}).",
            path.display(),
            f.session
        )
    );
    assert_eq!(
        lines[3..],
        [
            "Try:",
            "  aws sts get-caller-identity --profile account-0000-Admin"
        ]
    );
    assert!(!ran.stderr.contains("ssobar:"), "{}", ran.stderr);

    // The session comes first, with the refresh scope; then populate's block, 120 profiles.
    let config = f.config();
    assert!(
        config.starts_with(&format!(
            "[sso-session {}]\nsso_start_url = {}\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n# BEGIN ssobar populate: sso-session \"{}\"",
            f.session,
            f.start_url(),
            f.session
        )),
        "{config}"
    );
    assert_eq!(config.matches("[profile account-").count(), 120);
    // A session that can refresh: the sign-in registered the scope and got a refresh token.
    assert!(f.token()["refreshToken"].is_string(), "{}", f.token());
    assert_eq!(f.browser.opened().len(), 1);

    // botocore, as the AWS CLI, reads every profile and gets credentials for one.
    let profiles = botocore(&f.sandbox, &["profiles"]);
    assert_eq!(profiles.as_object().unwrap().len(), 120);
    assert_eq!(profiles["account-0039-ReadOnly"]["sso_session"], f.session);
    assert_eq!(
        profiles["account-0039-ReadOnly"]["sso_account_id"],
        "100000000039"
    );
    let creds = botocore(
        &f.sandbox,
        &["role-credentials", "--profile", "account-0007-Billing"],
    );
    let arn = creds["arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:sts::100000000007:assumed-role/AWSReservedSSO_Billing_"),
        "{arn}"
    );

    // Again: nothing changes, not a byte, not a file's time; no second sign-in.
    let config_before = snapshot(&path);
    let token_before = snapshot(&f.token_path());
    let tokens = f.fake.calls(Operation::CreateToken);
    let again = f.setup(&[]).success();
    assert_eq!(snapshot(&path), config_before);
    assert_eq!(snapshot(&f.token_path()), token_before);
    assert_eq!(f.fake.calls(Operation::CreateToken), tokens);
    assert_eq!(f.browser.opened().len(), 1);
    let lines: Vec<&str> = again.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "Using [sso-session {}] from {}: it signs in to {}.",
            f.session,
            path.display(),
            f.start_url()
        )
    );
    assert!(lines[1].starts_with(&format!("Already signed in to {} until ", f.session)));
    assert_eq!(
        lines[2],
        format!(
            "Added 0 profiles, updated 0, kept 120, removed 0 in {} (sso-session {}).",
            path.display(),
            f.session
        )
    );
}

#[test]
fn a_session_of_the_same_portal_is_reused_and_given_the_scope_it_lacked() {
    let f = Fresh::start(2);
    // A config written by hand: CRLF, comments, the portal's URL as pasted, no scopes.
    let original = format!(
        "# mine\r\n[default]\r\nregion = eu-west-1\r\n\r\n[sso-session mine-{port}]\r\nsso_start_url = {url}/#/\r\nsso_region = us-east-1\r\n\r\n; the end\r\n",
        port = f.fake.port(),
        url = f.start_url(),
    );
    f.sandbox.write_config(&original);
    let mine = format!("mine-{}", f.fake.port());

    let ran = f
        .ssobar(&[
            "setup",
            "--start-url",
            &format!("{}/", f.start_url()),
            "--yes",
        ])
        .success();
    assert!(
        ran.stdout.starts_with(&format!(
            "Gave [sso-session {mine}] in {} the scope sso:account:access, so that it can refresh.\nSigned in to {mine} until ",
            f.config_path().display()
        )),
        "{}",
        ran.stdout
    );
    let config = f.config();
    let expected_start = original.replace(
        "sso_region = us-east-1\r\n",
        "sso_region = us-east-1\r\nsso_registration_scopes = sso:account:access\r\n",
    );
    assert!(
        config.starts_with(&format!(
            "{expected_start}\r\n# BEGIN ssobar populate: sso-session \"{mine}\""
        )),
        "{config}"
    );
    assert!(!config.contains("[sso-session corp"), "not added twice");
    assert_eq!(config.matches("[profile account-").count(), 6);
    let token: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.sandbox.token_path(&mine)).unwrap())
            .unwrap();
    assert!(token["refreshToken"].is_string());
}

#[test]
fn a_vanity_url_is_followed_through_its_redirects_to_the_portal() {
    let f = Fresh::start(1);
    f.fake.update_config(|c| {
        c.redirects.insert("/aws".into(), "/go/portal".into());
        c.redirects.insert("/go/portal".into(), "/start/#/".into());
    });
    let vanity = format!("{}/aws", f.fake.url());
    f.ssobar(&[
        "setup",
        "--start-url",
        &vanity,
        "--sso-region",
        "us-east-1",
        "--name",
        &f.session,
        "--no-populate",
    ])
    .success();
    assert_eq!(
        f.config(),
        format!(
            "[sso-session {}]\nsso_start_url = {}\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
            f.session,
            f.start_url()
        )
    );
}

#[test]
fn bad_input_is_one_line_naming_what_to_give_and_nothing_is_written() {
    let f = Fresh::start(1);
    f.fake.update_config(|c| {
        c.redirects
            .insert("/plain".into(), "http://sso.example.com/start".into());
        c.redirects.insert("/loop".into(), "/loop".into());
    });
    let url = |path: &str| format!("{}{path}", f.fake.url());
    for (args, code, message) in [
        (
            vec!["setup", "--start-url", "http://corp.awsapps.com/start"],
            2,
            "ssobar: --start-url: http://corp.awsapps.com/start is not https; an AWS access portal is reached over https only (https://NAME.awsapps.com/start)\n".to_owned(),
        ),
        (
            vec!["setup", "--start-url", "https://corp.awsapps.com/console"],
            2,
            "ssobar: --start-url: https://corp.awsapps.com/console is not an AWS access portal page; paste https://corp.awsapps.com/start\n".to_owned(),
        ),
        (
            vec!["setup", "--start-url", "corp.awsapps.com", "--yes"],
            2,
            "ssobar: https://corp.awsapps.com/start does not say which region its IAM Identity Center is in; pass --sso-region REGION (where your IAM Identity Center is, like us-east-1)\n".to_owned(),
        ),
        (
            vec![
                "setup",
                "--start-url",
                "https://ssoins-1.portal.eu-west-1.app.aws",
                "--sso-region",
                "us-east-1",
            ],
            2,
            "ssobar: --sso-region: https://ssoins-1.portal.eu-west-1.app.aws is in eu-west-1, not us-east-1; leave the region out, or give eu-west-1\n".to_owned(),
        ),
        (
            vec!["setup", "--start-url", "corp.awsapps.com", "--sso-region", "mars"],
            2,
            "ssobar: --sso-region: \"mars\" is not an AWS region (like us-east-1 or eu-west-1)\n".to_owned(),
        ),
        (
            vec!["setup", "--start-url", &url("/plain"), "--sso-region", "us-east-1"],
            2,
            format!(
                "ssobar: --start-url: {} redirects to http://sso.example.com/start, which is not https; ssobar follows https redirects only\n",
                url("/plain")
            ),
        ),
        (
            vec!["setup", "--start-url", &url("/loop"), "--sso-region", "us-east-1"],
            2,
            format!(
                "ssobar: --start-url: {} redirected 5 times without reaching an AWS access portal; paste the portal's own URL (https://NAME.awsapps.com/start)\n",
                url("/loop")
            ),
        ),
        (
            vec!["setup", "--start-url", "corp.awsapps.com", "--sso-region", "us-east-1", "--name", "a b"],
            2,
            "ssobar: --name: \"a b\" cannot name an sso-session; use letters, digits and -_.+@=, (like corp or my-company)\n".to_owned(),
        ),
    ] {
        let ran = f.ssobar(&args).expect_code(code);
        assert_eq!(ran.stderr, message, "{args:?}");
        assert_eq!(ran.stdout, "", "{args:?}");
    }
    assert!(!f.sandbox.home().join(".aws").exists());
    assert_eq!(f.fake.calls(Operation::RegisterClient), 0);
    assert!(f.browser.opened().is_empty());
}

#[test]
fn setup_with_clusters_writes_contexts_the_real_kubectl_uses_and_a_second_run_changes_nothing() {
    require_secret_service();
    let f = Fresh::start(2);
    let server = KubeApiServer::start(f.sandbox.home(), "prod", f.fake.url());
    let ca =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&server.ca_file).unwrap());
    f.fake
        .add_cluster(FakeCluster::new("prod", &server.url, &ca).in_account("100000000001"));

    let ran = f.setup(&["--clusters"]).success();
    let kubeconfig = f.sandbox.home().join(".kube/config");
    assert!(
        ran.stdout.ends_with(&format!(
            "Wrote 1 context to {}.\nTry:\n  aws sts get-caller-identity --profile account-0000-Admin\n  kubectl --context account-0001/prod get nodes\n",
            kubeconfig.display()
        )),
        "{}",
        ran.stdout
    );
    let kubectl = Ran::run(f.sandbox.command("kubectl").args([
        "--context",
        "account-0001/prod",
        "get",
        "--raw",
        "/version",
    ]))
    .success();
    let version: serde_json::Value = serde_json::from_str(&kubectl.stdout).unwrap();
    let caller = version["caller"].as_str().unwrap();
    assert!(
        caller.starts_with("arn:aws:sts::100000000001:assumed-role/AWSReservedSSO_Admin_"),
        "{caller}"
    );

    let config_before = snapshot(&f.config_path());
    let kube_before = snapshot(&kubeconfig);
    let again = f.setup(&["--clusters"]).success();
    assert!(
        again.stdout.contains(&format!(
            "{} already has the 1 context; nothing changed.",
            kubeconfig.display()
        )),
        "{}",
        again.stdout
    );
    assert_eq!(snapshot(&f.config_path()), config_before);
    assert_eq!(snapshot(&kubeconfig), kube_before);
}
