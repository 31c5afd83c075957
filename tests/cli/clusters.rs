//! `ssobar clusters` and `ssobar kubeconfig --all`: the EKS clusters of hundreds of accounts
//! found with a bounded number of calls in flight, throttling survived, no keychain entry left
//! for the roles a session's search looked through, a role refused EKS reported and the next one
//! used, one kubeconfig context per cluster, and the real kubectl reaching the loopback API
//! server through one of them.

use crate::SSOBAR;
use base64::Engine;
use serde_json::Value;
use ssobar_fake_aws::{FakeAccount, FakeCluster, FakeConfig, Operation};
use ssobar_testkit::{KubeApiServer, Ran, World, secret_tool_entries, sha1_hex};

/// The most calls ssobar has in flight at once (core's `aws::window::MAX`).
const BOUND: usize = 128;

/// The accounts searched at once when that was a fixed number: a search now runs wider.
const FORMER_BOUND: usize = 8;

const ROLES: [&str; 3] = ["Admin", "Billing", "ReadOnly"];

/// The role EKS refuses; it sorts before Admin, so an account that has it tries it first.
const DENIED: &str = "Access";

fn account_id(n: usize) -> String {
    format!("{}", 100_000_000_000_u64 + n as u64)
}

fn ca_data() -> String {
    base64::engine::general_purpose::STANDARD
        .encode("-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n")
}

/// `count` accounts with three roles each, but account 50 has the refused role first and
/// account 100 only that one; every 50th account has two clusters in us-east-1 and one in
/// eu-west-1, account 0 a third in us-east-1. Pages of two names, so that account 0's
/// us-east-1 takes two ListClusters. Returns the clusters that can be found.
fn organisation(count: usize) -> (World, Vec<(String, String, String)>) {
    let mut accounts = FakeAccount::generated(count, &ROLES);
    if count > 50 {
        accounts[50].roles.insert(0, DENIED.to_owned());
    }
    if count > 100 {
        accounts[100].roles = vec![DENIED.to_owned()];
    }
    let mut clusters = Vec::new();
    let mut expected = Vec::new();
    for n in (0..count).step_by(50) {
        let mut place = |name: String, region: &str| {
            clusters.push(
                FakeCluster::new(&name, "https://127.0.0.1:6443", &ca_data())
                    .in_account(&account_id(n))
                    .in_region(region),
            );
            if n != 100 {
                expected.push((account_id(n), region.to_owned(), name));
            }
        };
        place(format!("api-{n}"), "us-east-1");
        place(format!("web-{n}"), "us-east-1");
        place(format!("data-{n}"), "eu-west-1");
        if n == 0 {
            place("batch-0".to_owned(), "us-east-1");
        }
    }
    expected.sort();
    let config = FakeConfig {
        accounts,
        clusters,
        eks_page_size: 2,
        eks_denied_roles: vec![DENIED.to_owned()],
        latency_ms: 5,
        ..FakeConfig::default()
    };
    (World::signed_in(SSOBAR, config), expected)
}

fn found(json: &Value) -> Vec<(String, String, String)> {
    let mut found: Vec<_> = json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["account_id"].as_str().unwrap().to_owned(),
                c["region"].as_str().unwrap().to_owned(),
                c["cluster"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn three_hundred_accounts_are_searched_with_a_bounded_number_of_calls_in_flight() {
    let (w, expected) = organisation(300);
    // The first accounts' ListClusters are slow, so that whether they overlap depends on the
    // bound and not on how fast this machine's keychain stores each role's credentials.
    w.fake.inject_fault(
        Operation::ListClusters,
        ssobar_fake_aws::Fault::Latency(std::time::Duration::from_millis(300)),
        4 * FORMER_BOUND,
    );
    let ran = w
        .ssobar(&[
            "clusters",
            "--sso-session",
            &w.session,
            "--regions",
            "us-east-1,eu-west-1",
            "--json",
        ])
        .success();
    let json = ran.json();
    assert_eq!(found(&json), expected);
    assert_eq!(expected.len(), 5 * 3 + 1);

    // One role per account; account 50's refused role is a line, and Admin lists it instead;
    // account 100 has no other role, and that is a line too, not an error.
    let roles: Vec<&str> = json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role_name"].as_str().unwrap())
        .collect();
    assert!(roles.iter().all(|r| *r == "Admin"), "{roles:?}");
    assert_eq!(
        ran.stderr,
        "ssobar: account-0050 (100000000050) / Access: not allowed eks:ListClusters; skipped\n\
         ssobar: account-0100 (100000000100) / Access: not allowed eks:ListClusters; skipped\n\
         ssobar: account-0100 (100000000100): no role may list its EKS clusters; skipped\n"
    );
    let reasons: Vec<&str> = json["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["not_allowed", "not_allowed", "no_role_allowed"]);
    let account_50 = &json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account_id"] == account_id(50))
        .unwrap();
    assert_eq!(account_50["account_name"], "account-0050");
    assert_eq!(account_50["endpoint"], "https://127.0.0.1:6443");
    assert_eq!(
        account_50["arn"],
        "arn:aws:eks:eu-west-1:100000000050:cluster/data-50"
    );

    // Two regions per account, one more page for account 0's three us-east-1 clusters, and
    // the two refused calls (a refused role is not asked about its other region); a
    // DescribeCluster per cluster.
    assert_eq!(w.calls(Operation::ListClusters), 299 * 2 + 1 + 2);
    assert_eq!(w.calls(Operation::DescribeCluster), expected.len());
    assert_eq!(w.calls(Operation::GetRoleCredentials), 300 + 1);
    let peak = w.fake.peak_in_flight(Operation::ListClusters);
    assert!(peak <= BOUND, "{peak} calls in flight");
    assert!(
        peak > FORMER_BOUND,
        "{peak} calls in flight: no wider than a fixed bound"
    );
    // The roles' credentials served the search alone: none was kept.
    let prefix = format!("sso/{}/", w.session);
    assert_eq!(secret_tool_entries(&prefix), Vec::<String>::new());
    assert_eq!(
        secret_tool_entries(&format!("index/{}", w.session)),
        Vec::<String>::new()
    );

    // The account list is reused; the credentials, kept nowhere, are fetched again.
    w.fake.reset_counters();
    let again = w
        .ssobar(&[
            "clusters",
            "--sso-session",
            &w.session,
            "--regions",
            "us-east-1,eu-west-1",
            "--json",
        ])
        .success();
    assert_eq!(found(&again.json()), expected);
    assert_eq!(w.calls(Operation::GetRoleCredentials), 300 + 1);
    assert_eq!(w.calls(Operation::ListAccounts), 0);
    assert_eq!(secret_tool_entries(&prefix), Vec::<String>::new());
}

#[test]
fn a_search_throttled_again_and_again_still_finds_every_cluster() {
    let (w, expected) = organisation(300);
    // More throttling than the SDK's three tries of each call in flight absorb: the calls
    // still throttled are made again, fewer at a time, until they are answered.
    for (operation, times) in [
        (Operation::GetRoleCredentials, 40),
        (Operation::ListClusters, 40),
        (Operation::DescribeCluster, 10),
    ] {
        w.fake
            .inject_fault(operation, ssobar_fake_aws::Fault::Throttle, times);
    }
    let ran = w
        .ssobar(&[
            "clusters",
            "--sso-session",
            &w.session,
            "--regions",
            "us-east-1,eu-west-1",
            "--json",
        ])
        .success();
    let json = ran.json();
    assert_eq!(found(&json), expected);
    let roles: Vec<&str> = json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role_name"].as_str().unwrap())
        .collect();
    assert!(roles.iter().all(|r| *r == "Admin"), "{roles:?}");
    // Only the refusals are lines: no call was given up on.
    assert_eq!(
        ran.stderr,
        "ssobar: account-0050 (100000000050) / Access: not allowed eks:ListClusters; skipped\n\
         ssobar: account-0100 (100000000100) / Access: not allowed eks:ListClusters; skipped\n\
         ssobar: account-0100 (100000000100): no role may list its EKS clusters; skipped\n"
    );
}

#[test]
fn the_table_has_a_row_per_cluster_and_a_preferred_role_is_tried_first() {
    let (w, _) = organisation(51);
    let ran = w
        .ssobar(&[
            "clusters",
            "--sso-session",
            &w.session,
            "--regions",
            "eu-west-1",
            "--role",
            "ReadOnly",
        ])
        .success();
    assert_eq!(
        ran.stdout,
        "ACCOUNT       NAME          ROLE      REGION     CLUSTER\n\
         100000000000  account-0000  ReadOnly  eu-west-1  data-0\n\
         100000000050  account-0050  ReadOnly  eu-west-1  data-50\n"
    );
    assert_eq!(
        ran.stderr, "",
        "the refused role is not tried before ReadOnly"
    );
    // Kept for the tray app's search, with no credential in it.
    let kept = w
        .sandbox
        .home()
        .join(".cache/ssobar/clusters")
        .join(format!("{}.json", sha1_hex(&w.session)));
    let kept: Value = serde_json::from_slice(&std::fs::read(&kept).unwrap()).unwrap();
    let names: Vec<&str> = kept["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cluster"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["data-0", "data-50"]);
    let text = kept.to_string();
    assert!(
        w.fake
            .secrets()
            .iter()
            .all(|secret| !text.contains(secret.as_str())),
        "{text}"
    );
}

/// EKS forbids such names, but ssobar does not count on it: a cluster name holding escape
/// sequences and line breaks reaches the table and the lines printable, and `--json` keeps it
/// as EKS spelt it (JSON escapes it).
#[test]
fn a_cluster_name_holding_escape_sequences_reaches_the_table_printable() {
    let hostile = "\x1b]0;owned\x07\x1b[2Jprod\x1b[31m";
    let unready = "\x1b[1Anew\r\nline";
    let config = FakeConfig {
        accounts: vec![FakeAccount::new(
            "111122223333",
            "acme-dev",
            "aws-dev@example.com",
            &["Admin"],
        )],
        clusters: vec![
            FakeCluster::new(hostile, "https://127.0.0.1:6443", &ca_data()),
            // No endpoint yet: DescribeCluster's refusal names it in a line.
            FakeCluster::new(unready, "", ""),
        ],
        ..FakeConfig::default()
    };
    let w = World::signed_in(SSOBAR, config);
    let args = [
        "clusters",
        "--sso-session",
        &w.session,
        "--regions",
        "us-east-1",
    ];
    let ran = w.ssobar(&args).success();
    assert_eq!(
        ran.stdout,
        "ACCOUNT       NAME      ROLE   REGION     CLUSTER\n\
         111122223333  acme-dev  Admin  us-east-1  prod\n"
    );
    assert_eq!(
        ran.stderr,
        "ssobar: acme-dev (111122223333) / Admin in us-east-1: DescribeCluster new line failed: EKS cluster new line has no endpoint or CA yet (is it still being created?); skipped\n"
    );
    let json = w.ssobar(&[&args[..], &["--json"]].concat()).success();
    assert!(!json.stdout.contains('\x1b'), "{}", json.stdout);
    assert_eq!(json.json()["clusters"][0]["cluster"], hostile);
}

#[test]
fn a_region_that_is_not_one_is_a_usage_error_before_any_call() {
    let (w, _) = organisation(1);
    let ran = w
        .ssobar(&[
            "clusters",
            "--sso-session",
            &w.session,
            "--regions",
            "us-east-1,moon",
        ])
        .expect_code(2);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("\"moon\" is not one"), "{}", ran.stderr);
    assert_eq!(w.calls(Operation::ListAccounts), 0);
}

/// A small organisation: the API server stand-in is cluster `prod` of account 1 (us-east-1);
/// account 0 has `staging` in eu-west-1; account 2 has `orphan`, but no profile for its role.
struct Fleet {
    w: World,
    server: KubeApiServer,
}

fn fleet() -> Fleet {
    let accounts = FakeAccount::generated(3, &["Admin"]);
    let w = World::signed_in(
        SSOBAR,
        FakeConfig {
            accounts,
            ..FakeConfig::default()
        },
    );
    let server = KubeApiServer::start(w.sandbox.home(), "prod", w.fake.url());
    let ca =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&server.ca_file).unwrap());
    w.fake
        .add_cluster(FakeCluster::new("prod", &server.url, &ca).in_account(&account_id(1)));
    w.fake.add_cluster(
        FakeCluster::new("staging", "https://127.0.0.1:1", &ca_data())
            .in_account(&account_id(0))
            .in_region("eu-west-1"),
    );
    w.fake.add_cluster(
        FakeCluster::new("orphan", "https://127.0.0.1:1", &ca_data()).in_account(&account_id(2)),
    );
    let config = w
        .config()
        .sso_profile("zero", &w.session, &account_id(0), "Admin")
        .with("region", "eu-west-1")
        .sso_profile("one", &w.session, &account_id(1), "Admin")
        .with("region", "us-east-1");
    w.sandbox.write_config(config);
    Fleet { w, server }
}

#[test]
fn kubeconfig_all_writes_a_context_per_cluster_and_kubectl_reaches_one() {
    let Fleet { w, server } = fleet();
    let kubeconfig = w.sandbox.home().join("fleet.yaml");
    // Regions from each profile (account 2 has none, so the session's us-east-1).
    let ran = w
        .ssobar(&[
            "kubeconfig",
            "--all",
            "--sso-session",
            &w.session,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ])
        .success();
    assert_eq!(
        ran.stdout,
        format!("Wrote 2 contexts to {}.\n", kubeconfig.display())
    );
    assert_eq!(
        ran.stderr,
        format!(
            "ssobar: account-0002 (100000000002) / Admin: no profile in the AWS config for this role, \
             so its 1 cluster is not written; add one with \"ssobar populate --sso-session {}\"\n",
            w.session
        )
    );
    let doc: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&kubeconfig).unwrap()).unwrap();
    let contexts: Vec<&str> = doc["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(contexts, ["account-0000/staging", "account-0001/prod"]);
    let user = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "account-0001/prod")
        .unwrap();
    let exec = &user["user"]["exec"];
    assert_eq!(exec["command"], SSOBAR);
    assert_eq!(
        exec["args"],
        serde_json::json!([
            "eks-token",
            "--profile",
            "one",
            "--cluster-id",
            "prod",
            "--region",
            "us-east-1"
        ])
    );

    let kubectl = Ran::run(
        w.sandbox
            .command("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .args(["--context", "account-0001/prod", "get", "--raw", "/version"]),
    )
    .success();
    let version: Value = serde_json::from_str(&kubectl.stdout).unwrap();
    let caller = version["caller"].as_str().unwrap();
    assert!(
        caller.starts_with("arn:aws:sts::100000000001:assumed-role/AWSReservedSSO_Admin_"),
        "{caller}"
    );
    assert!(server.requests().iter().all(|r| r["ok"] == true));

    // Nothing new: the file is left as it is.
    let again = w
        .ssobar(&[
            "kubeconfig",
            "--all",
            "--sso-session",
            &w.session,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ])
        .success();
    assert!(
        again.stdout.contains("already has the 2 contexts"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_template_names_the_contexts_and_an_unknown_placeholder_is_refused_before_any_call() {
    let Fleet { w, .. } = fleet();
    let ran = w
        .ssobar(&[
            "kubeconfig",
            "--all",
            "--sso-session",
            &w.session,
            "--regions",
            "us-east-1,eu-west-1",
            "--template",
            "{profile} {region}/{cluster}",
            "--dry-run",
        ])
        .success();
    assert_eq!(
        ran.stdout,
        "zero-eu-west-1/staging\none-us-east-1/prod\n\
         Would write 2 contexts to "
            .to_owned()
            + &format!(
                "{} (dry run; nothing written).\n",
                w.sandbox.home().join(".kube/config").display()
            )
    );
    assert!(!w.sandbox.home().join(".kube/config").exists());

    w.fake.reset_counters();
    let ran = w
        .ssobar(&[
            "kubeconfig",
            "--all",
            "--sso-session",
            &w.session,
            "--template",
            "{account}/{cluster}",
        ])
        .expect_code(2);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("{account} is not a placeholder"),
        "{}",
        ran.stderr
    );
    assert_eq!(w.calls(Operation::ListAccounts), 0);
}

#[test]
fn a_profile_scope_looks_only_in_that_profiles_role_and_region() {
    let Fleet { w, .. } = fleet();
    let json = w
        .ssobar(&["clusters", "-p", "one", "--json"])
        .success()
        .json();
    let clusters = json["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "{json}");
    assert_eq!(clusters[0]["cluster"], "prod");
    assert_eq!(clusters[0]["profile"], "one");
    assert_eq!(clusters[0]["role_name"], "Admin");
    assert_eq!(
        w.calls(Operation::ListAccounts),
        0,
        "no directory for one profile"
    );
    assert_eq!(w.calls(Operation::ListClusters), 1);

    // The single-cluster form still works as it did.
    let kubeconfig = w.sandbox.home().join("one.yaml");
    w.ssobar(&[
        "kubeconfig",
        "-p",
        "one",
        "--cluster-id",
        "prod",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ])
    .success();
    assert!(
        std::fs::read_to_string(&kubeconfig)
            .unwrap()
            .contains("name: one@prod")
    );
}

#[test]
fn a_throttled_call_is_retried_and_one_that_keeps_failing_is_a_line() {
    let Fleet { w, .. } = fleet();
    w.fake
        .inject_fault(Operation::ListClusters, ssobar_fake_aws::Fault::Throttle, 2);
    let ran = w.ssobar(&["clusters", "-p", "one"]).success();
    assert!(ran.stdout.contains("  prod\n"), "{}", ran.stdout);
    assert_eq!(ran.stderr, "");
    assert_eq!(w.calls(Operation::ListClusters), 3);

    w.fake.reset_counters();
    // Every attempt of the first ListClusters fails; the SDK tries three times.
    w.fake.inject_fault(
        Operation::ListClusters,
        ssobar_fake_aws::Fault::ServerError,
        3,
    );
    let ran = w.ssobar(&["clusters", "-p", "one"]).success();
    assert_eq!(ran.stdout, "");
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", ran.stderr);
    assert!(
        lines[0].starts_with("ssobar: 100000000001 / Admin in us-east-1: ListClusters failed: "),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with("; skipped"), "{}", lines[0]);
    assert_eq!(lines[1], "No EKS clusters found.");
    assert_eq!(w.calls(Operation::ListClusters), 3);
}

/// Sends `signal` (STOP, KILL) to a process.
#[cfg(unix)]
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

#[cfg(unix)]
#[test]
fn a_credential_fetch_stopped_elsewhere_ends_a_profiles_search_and_not_a_sessions() {
    let (w, _) = organisation(20);
    // A fetch of account 1's Admin credentials, mid-call when its `aws` gets Ctrl-Z.
    let config = w
        .config()
        .sso_profile("one", &w.session, &account_id(1), "Admin");
    w.sandbox.write_config(config);
    w.fake.update_config(|c| c.latency_ms = 20_000);
    let mut holder = w.spawn(&["credential-process", "--profile", "one"]);
    let locks = w.sandbox.cache_dir().join(".ssobar-locks");
    let held = ssobar_testkit::wait_for(20, || {
        std::fs::read_dir(&locks).ok()?.flatten().find(|entry| {
            entry.file_name().to_string_lossy().starts_with("creds-")
                && std::fs::read_to_string(entry.path())
                    .is_ok_and(|text| text.starts_with(&format!("{}\n", holder.id())))
        })
    });
    assert!(held.is_some(), "the holder never took its lock");
    signal(holder.id(), "STOP");
    w.fake.update_config(|c| c.latency_ms = 0);

    // The session's search fetches the role's credentials for itself: no lock to wait for.
    let search = |scope: &[&str]| {
        let started = std::time::Instant::now();
        let mut command = w.command();
        command
            .arg("clusters")
            .args(scope)
            .args(["--regions", "us-east-1"])
            .env("SSOBAR_LOCK_WAIT_SECONDS", "1");
        (command, started)
    };
    let (mut command, started) = search(&["--sso-session", &w.session]);
    let ran = Ran::run(&mut command).success();
    assert!(ran.stdout.contains("  api-0\n"), "{}", ran.stdout);
    assert_eq!(ran.stderr, "");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the session's search waited for the lock"
    );

    // The profile's search uses the vault, whose lock the stopped fetch holds: it waits once,
    // then ends with one line naming the holder.
    let (mut command, started) = search(&["-p", "one"]);
    let ran = Ran::run(&mut command).expect_code(1);
    let took = started.elapsed();
    signal(holder.id(), "KILL");
    holder.wait().unwrap();

    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!("process {} (", holder.id())),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("ssobar credential-process --profile one"),
        "{}",
        ran.stderr
    );
    assert!(
        took < std::time::Duration::from_secs(10),
        "the search waited {took:?}, not once for the lock"
    );
}

#[test]
fn an_expired_session_with_no_app_and_no_terminal_fails_with_one_line_naming_login() {
    let Fleet { w, .. } = fleet();
    w.seed_sign_in_with(-60, &[]);
    for scope in [
        &["--sso-session", w.session.as_str()][..],
        &["-p", "one"][..],
    ] {
        let ran = w
            .ssobar(&[&["clusters"][..], scope].concat())
            .expect_code(1);
        assert_eq!(ran.stdout, "");
        assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
        assert!(
            ran.stderr.contains("run \"ssobar login "),
            "{scope:?}: {}",
            ran.stderr
        );
    }
    assert_eq!(w.calls(Operation::ListAccounts), 0);
    assert_eq!(w.calls(Operation::ListClusters), 0);
    assert!(w.browser.opened().is_empty());
}
