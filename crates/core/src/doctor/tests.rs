use super::fix::{config_fixes, kubeconfig_fixes};
use super::*;
use crate::config::SessionId;
use crate::config::fixtures::config;
use crate::kube::kubeconfig::replace_user_execs;
use std::path::Path;

const SEED_CONFIG: &str = include_str!("../../../../tests/fixtures/seed/config");
const SEED_KUBECONFIG: &str = include_str!("../../../../tests/fixtures/seed/kubeconfig.yaml");
const SSOBAR: &str = "/usr/bin/ssobar";

fn seed_config() -> String {
    SEED_CONFIG
        .replace("{START_URL}", "https://domain.awsapps.com/start")
        .replace("{ACCOUNT_ID}", "111122223333")
        .replace("{ROLE}", "role-name")
}

fn seed_kubeconfig() -> Value {
    let text = SEED_KUBECONFIG
        .replace("{SERVER}", "https://127.0.0.1:6443")
        .replace("{CA_DATA}", "Q0E=")
        .replace("{CLUSTER}", "eks-cluster-name");
    serde_yaml_ng::from_str(&text).unwrap()
}

fn observed(config_text: &str) -> Observed {
    Observed {
        config: config(config_text),
        kubeconfig: None,
        missing_commands: BTreeSet::new(),
        ssobar: SSOBAR.to_owned(),
        env: Env::default(),
        ca_bundle_exists: None,
        keychain: Ok(()),
        token_store: TokenStoreKind::AwsCli,
        browser: true,
        app_running: false,
        loose_files: Vec::new(),
    }
}

fn fixes(text: &str, credentials: &str) -> (String, Vec<Fixed>, Vec<Left>) {
    let (after, fixed, left) = config_fixes(
        Path::new("/h/.aws/config"),
        text.as_bytes(),
        credentials.as_bytes(),
        SSOBAR,
    );
    (String::from_utf8(after).unwrap(), fixed, left)
}

fn needs_doing(findings: &[Finding]) -> Vec<&'static str> {
    findings
        .iter()
        .filter(|f| f.severity() == Severity::NeedsDoing)
        .map(Finding::check)
        .collect()
}

#[test]
fn the_seed_s_legacy_profile_is_found_and_moved_to_a_session_that_refreshes() {
    let text = seed_config();
    let findings = check(&observed(&text));
    assert_eq!(needs_doing(&findings), ["legacy-profiles"]);
    assert_eq!(
        findings[0].message(),
        "profile sso-profile signs in to https://domain.awsapps.com/start with an sso_start_url of its own (no sso-session): no refresh token, a sign-in every 8 hours"
    );
    assert_eq!(findings[0].command().as_deref(), Some(FIX_COMMAND));
    assert!(findings[0].fixable());

    let (after, fixed, left) = fixes(&text, "");
    assert_eq!(left, []);
    assert_eq!(
        fixed,
        [Fixed::LegacyProfiles {
            session: "domain".into(),
            added: true,
            start_url: "https://domain.awsapps.com/start".into(),
            profiles: vec!["sso-profile".into()],
        }]
    );
    // The two lines become one; every other byte stays; the session goes at the end.
    let expected = text.replace(
        "sso_start_url = https://domain.awsapps.com/start\nsso_region = us-east-1\n",
        "sso_session = domain\n",
    ) + "\n[sso-session domain]\nsso_start_url = https://domain.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n";
    assert_eq!(after, expected);
    let moved = config(&after);
    let sso = moved
        .sso_profile(moved.profile("sso-profile").unwrap())
        .unwrap();
    assert_eq!(sso.session.id, SessionId::Named("domain".into()));
    assert_eq!(
        (sso.account_id.as_deref(), sso.role_name.as_deref()),
        (Some("111122223333"), Some("role-name"))
    );
    assert!(needs_doing(&check(&observed(&after))).is_empty());
    // Fixed already: a second run changes nothing.
    let (again, fixed, _) = fixes(&after, "");
    assert_eq!((again.as_str(), fixed.len()), (after.as_str(), 0));
}

#[test]
fn legacy_profiles_of_one_url_share_one_session_and_an_existing_one_is_reused() {
    let text = "[profile a]\r\nsso_start_url = https://corp.awsapps.com/start#/\r\nsso_region = eu-west-1\r\nsso_account_id = 1\r\nsso_role_name = R\r\n\r\n[profile b]\r\nsso_region = eu-west-1\r\nsso_start_url = https://corp.awsapps.com/start\r\nsso_account_id = 2\r\nsso_role_name = S\r\n\r\n[sso-session corp]\r\nsso_start_url = https://corp.awsapps.com/start\r\nsso_region = eu-west-1\r\nsso_registration_scopes = sso:account:access\r\n";
    let findings = legacy_profiles(&config(text));
    assert_eq!(findings.len(), 1);
    let (after, fixed, _) = fixes(text, "");
    assert_eq!(
        after,
        text.replace(
            "sso_start_url = https://corp.awsapps.com/start#/\r\nsso_region = eu-west-1\r\nsso_account_id = 1",
            "sso_session = corp\r\nsso_account_id = 1"
        )
        .replace(
            "sso_region = eu-west-1\r\nsso_start_url = https://corp.awsapps.com/start\r\nsso_account_id = 2",
            "sso_session = corp\r\nsso_account_id = 2"
        )
    );
    assert!(
        matches!(&fixed[0], Fixed::LegacyProfiles { added: false, profiles, .. } if profiles.len() == 2)
    );
}

#[test]
fn legacy_profiles_that_disagree_or_that_would_resolve_otherwise_are_left() {
    let disagree = "[profile a]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 1\nsso_role_name = R\n[profile b]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = R\n";
    let (after, fixed, left) = fixes(disagree, "");
    assert_eq!((after.as_str(), fixed.len()), (disagree, 0));
    assert!(
        left[0]
            .why
            .contains("different sso_regions (eu-west-1, us-east-1)"),
        "{left:?}"
    );

    // The credentials file repeats the start URL in another form: after the fix the profile
    // and its session would disagree, so the SDKs would refuse it. Read back, that is seen.
    let text = "[profile a]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 1\nsso_role_name = R\n";
    let credentials = "[a]\nsso_start_url = https://corp.awsapps.com/start#/\n";
    let (after, fixed, left) = fixes(text, credentials);
    assert_eq!((after.as_str(), fixed.len()), (text, 0));
    assert!(
        left[0]
            .why
            .contains("would not resolve to the same account and role"),
        "{left:?}"
    );
}

#[test]
fn sessions_without_the_refresh_scope_get_it() {
    let text = "[sso-session a]\nsso_start_url = https://a.awsapps.com/start\nsso_region = eu-west-1\n\n# about b\n[sso-session b]\nsso_start_url = https://b.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = codewhisperer:completions\n";
    let findings = sessions_without_refresh_scope(&config(text));
    assert_eq!(findings.len(), 2);
    assert_eq!(
        findings[0].message(),
        "[sso-session a] lacks sso:account:access in sso_registration_scopes: no refresh token, a sign-in every 8 hours"
    );
    let (after, fixed, _) = fixes(text, "");
    assert_eq!(
        after,
        "[sso-session a]\nsso_start_url = https://a.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n\n# about b\n[sso-session b]\nsso_start_url = https://b.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = codewhisperer:completions, sso:account:access\n"
    );
    assert_eq!(fixed.len(), 2);
    assert!(
        fixed[0]
            .message()
            .contains("ssobar login --sso-session a --force")
    );
}

#[test]
fn the_seed_s_kubeconfig_user_becomes_ssobar_eks_token_with_the_same_profile_and_cluster() {
    let text = seed_config();
    let doc = seed_kubeconfig();
    let findings = kubeconfig_users(&doc, &config(&text), &|_| false, SSOBAR);
    assert_eq!(findings.len(), 1);
    assert_eq!(
        findings[0].message(),
        "kubeconfig user user-entry-name gets its token from aws-vault and aws-iam-authenticator (profile sso-profile, cluster eks-cluster-name); ssobar eks-token can, with no other tool"
    );
    assert_eq!(findings[0].severity(), Severity::NeedsDoing);
    let (execs, fixed) = kubeconfig_fixes(&doc, &config(&text), &|_| false, SSOBAR);
    assert_eq!(
        fixed,
        [Fixed::KubeconfigUser {
            user: "user-entry-name".into(),
            runs: "/usr/bin/ssobar eks-token --profile sso-profile --cluster-id eks-cluster-name"
                .into()
        }]
    );
    let (after, changed) = replace_user_execs(doc.clone(), &execs).unwrap();
    assert!(changed);
    let exec = &after["users"][0]["user"]["exec"];
    // v1alpha1 is gone from kubectl since 1.24; the user gets v1beta1.
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert_eq!(exec["command"], SSOBAR);
    assert_eq!(after["clusters"], doc["clusters"]);
    assert_eq!(after["contexts"], doc["contexts"]);
    // Rewritten, it is no longer found.
    assert!(kubeconfig_users(&after, &config(&text), &|_| false, SSOBAR).is_empty());
}

#[test]
fn kubeconfig_users_ssobar_cannot_take_over_are_named_and_left() {
    let doc: Value = serde_yaml_ng::from_str(
        r"
users:
- name: no-profile
  user:
    exec: {command: aws-iam-authenticator, args: [token, -i, prod]}
- name: unknown-profile
  user:
    exec: {command: aws-vault, args: [exec, gone, --, aws-iam-authenticator, token, -i, prod]}
- name: keys
  user:
    exec:
      command: aws
      args: [eks, get-token, --cluster-name, prod, --region, eu-west-1]
      env: [{name: AWS_PROFILE, value: static}]
- name: moved
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /old/build/ssobar
      args: [eks-token, --profile, static, --cluster-id, prod]
- name: token-user
  user: {token: abc}
",
    )
    .unwrap();
    let cfg = config("[profile static]\naws_access_key_id = AKIA\naws_secret_access_key = x\n");
    let findings = kubeconfig_users(&doc, &cfg, &|p| p == "/old/build/ssobar", SSOBAR);
    let lines: Vec<(String, Severity)> = findings
        .iter()
        .map(|f| (f.message(), f.severity()))
        .collect();
    assert_eq!(
        lines,
        [
            ("kubeconfig user no-profile gets its token from aws-iam-authenticator; left as it is: it names no profile (neither aws-vault's, --profile nor AWS_PROFILE)".to_owned(), Severity::Info),
            ("kubeconfig user unknown-profile gets its token from aws-vault and aws-iam-authenticator; left as it is: the AWS config has no profile gone".to_owned(), Severity::NeedsDoing),
            ("kubeconfig user keys gets its token from aws eks get-token; left as it is: profile static gets its credentials from itself (static), not from IAM Identity Center; ssobar manages SSO profiles".to_owned(), Severity::Info),
            ("kubeconfig user moved gets its token from /old/build/ssobar, which no longer exists (profile static, cluster prod); ssobar eks-token can, with no other tool".to_owned(), Severity::NeedsDoing),
        ]
    );
    let (execs, _) = kubeconfig_fixes(&doc, &cfg, &|p| p == "/old/build/ssobar", SSOBAR);
    assert_eq!(
        execs,
        [(
            "moved".to_owned(),
            ExecPlugin {
                api_version: "client.authentication.k8s.io/v1".into(),
                command: SSOBAR.into(),
                args: ["eks-token", "--profile", "static", "--cluster-id", "prod"]
                    .map(str::to_owned)
                    .to_vec(),
            }
        )]
    );
}

#[test]
fn credential_processes_of_other_tools_are_pointed_at_ssobar_for_the_same_role() {
    let text = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n\n[profile prod]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n\n[profile vault]\ncredential_process = aws-vault exec --json prod\nregion = eu-west-1\n\n[profile sso-cli]\ncredential_process = aws-sso process --arn arn:aws:iam::111122223333:role/Admin\n\n[profile other-role]\ncredential_process = aws-sso process --account 999 --role X\n";
    let findings = tool_credential_processes(&config(text), SSOBAR);
    let lines: Vec<String> = findings.iter().map(Finding::message).collect();
    assert_eq!(
        lines,
        [
            "profile other-role gets credentials from aws-sso; left as it is: no profile of the AWS config signs in to account 999 as X (ssobar setup writes one for every role)",
            "profile sso-cli gets credentials from aws-sso; ssobar can serve the same role: credential_process = /usr/bin/ssobar credential-process --profile prod",
            "profile vault gets credentials from aws-vault; ssobar can serve the same role: credential_process = /usr/bin/ssobar credential-process --profile prod",
        ]
    );
    let (after, fixed, left) = fixes(text, "");
    assert_eq!(left, []);
    assert_eq!(fixed.len(), 2);
    assert_eq!(
        after,
        text.replace(
            "credential_process = aws-vault exec --json prod",
            "credential_process = /usr/bin/ssobar credential-process --profile prod"
        )
        .replace(
            "credential_process = aws-sso process --arn arn:aws:iam::111122223333:role/Admin",
            "credential_process = /usr/bin/ssobar credential-process --profile prod"
        )
    );
    let moved = config(&after);
    for profile in ["vault", "sso-cli"] {
        let resolution = moved.resolve(moved.profile(profile).unwrap());
        assert_eq!(
            role_of(&resolution),
            Some(("111122223333".into(), "Admin".into(), Vec::new())),
            "{profile}"
        );
    }
}

#[test]
fn the_machine_s_lines_hide_passwords_and_only_some_need_doing() {
    let mut seen = observed("");
    seen.env = Env::from_pairs([
        ("HTTPS_PROXY", "http://me:s3cret@proxy.corp:3128"),
        ("NO_PROXY", "localhost,.corp"),
        ("AWS_CA_BUNDLE", "/etc/corp-ca.pem"),
    ]);
    seen.ca_bundle_exists = Some(false);
    seen.keychain = Err(
        "cannot use the Secret Service (D-Bus) to keep credentials: there is no D-Bus session bus"
            .into(),
    );
    seen.token_store = TokenStoreKind::Keychain;
    seen.browser = false;
    seen.loose_files = vec!["/h/.config/ssobar/settings.toml may be written by other users".into()];
    let findings = check(&seen);
    let lines: Vec<String> = findings.iter().map(Finding::message).collect();
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("s3cret") && !l.contains('\n')),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"HTTPS_PROXY is set to http://me:***@proxy.corp:3128/".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines[0].contains("token_store = keychain keeps SSO tokens there too"),
        "{lines:?}"
    );
    assert_eq!(
        needs_doing(&findings),
        ["secret-service", "ca-bundle", "file-permissions"]
    );
    let browser = findings.iter().find(|f| f.check() == "browser").unwrap();
    assert_eq!(
        browser.command().as_deref(),
        Some("ssobar login --device-code")
    );

    // A machine with nothing to say but that the app is not running: nothing needs doing.
    let quiet = check(&observed(""));
    assert_eq!(quiet, [Finding::App { running: false }]);
    assert!(needs_doing(&quiet).is_empty());
    let view = serde_json::to_value(quiet[0].view()).unwrap();
    assert_eq!(view["severity"], "info");
    assert_eq!(view["check"], "app");
}
