//! `ssobar populate`: a profile for each of 300 accounts x 3 roles in the AWS config, inside a
//! marked block, with every byte outside it (comments, CRLF lines, hand-written profiles) as it
//! was; idempotent; `--dry-run`'s diff exact; `--prune` removing only its own; concurrent
//! writers both landing; and botocore reading every profile it wrote.

use crate::SSOBAR;
use ssobar_fake_aws::{FakeAccount, FakeConfig, Operation};
use ssobar_testkit::{BrowserMode, Ran, World, botocore};
use std::path::PathBuf;

const ROLES: [&str; 3] = ["Admin", "Billing", "ReadOnly"];

/// A signed-in world whose person reaches `count` accounts with three roles each.
fn organisation(count: usize) -> World {
    let config = FakeConfig {
        accounts: FakeAccount::generated(count, &ROLES),
        ..FakeConfig::default()
    };
    let w = World::start(SSOBAR, config, BrowserMode::Ignore);
    w.seed_sign_in(8 * 3600);
    w
}

/// The world's config with comments, CRLF line endings (and one LF line), blank lines, a
/// hand-written profile whose name is one populate would give, and a last line with no line
/// ending.
fn hand_written(w: &World) -> String {
    format!(
        "# my AWS config: keep this line\r\n\
         {}\
         ; an LF line among CRLF ones\n\
         \r\n\
         [profile account-0001-Admin]\r\n\
         region = eu-central-1\r\n\
         credential_process = /usr/local/bin/my-own-helper\r\n\
         \r\n\
         \r\n\
         # the end, with no line ending",
        w.config().text().replace('\n', "\r\n")
    )
}

fn config_path(w: &World) -> PathBuf {
    w.sandbox.home().join(".aws/config")
}

/// The config's text (compared as text, so that a failure shows lines, not bytes).
fn read_config(w: &World) -> String {
    std::fs::read_to_string(config_path(w)).unwrap()
}

fn populate(w: &World, extra: &[&str]) -> Ran {
    let mut args = vec!["populate", "--sso-session", &w.session];
    args.extend_from_slice(extra);
    w.ssobar(&args)
}

/// The bytes before `session`'s BEGIN line and after its END line (and that line's ending).
fn outside(text: &str, session: &str) -> (String, String) {
    let begin = text
        .find(&format!(
            "# BEGIN ssobar populate: sso-session \"{session}\""
        ))
        .expect("a BEGIN line");
    let end = format!("# END ssobar populate: sso-session \"{session}\"\r\n");
    let after = text.find(&end).expect("an END line") + end.len();
    (text[..begin].to_owned(), text[after..].to_owned())
}

fn generated_names(count: usize) -> Vec<String> {
    (0..count)
        .flat_map(|n| ROLES.map(|role| format!("account-{n:04}-{role}")))
        .collect()
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// What tells one write from none: the file's inode (a write renames a new file in) and mtime.
fn identity(w: &World) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(config_path(w)).unwrap();
    (meta.ino(), meta.modified().unwrap())
}

#[test]
fn every_role_gets_a_profile_and_every_byte_outside_the_block_stays_as_it_was() {
    let w = organisation(300);
    let original = hand_written(&w);
    w.sandbox.write_config(&original);
    crate::chmod(&config_path(&w), 0o600);

    let ran = populate(&w, &[]).success();
    let path = config_path(&w);
    assert_eq!(ran.stdout, "");
    let mut lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(
        lines.pop(),
        Some(
            format!(
                "Added 899 profiles, updated 0, kept 0, removed 0 in {} (sso-session {}).",
                path.display(),
                w.session
            )
            .as_str()
        ),
        "{}",
        ran.stderr
    );
    assert_eq!(
        lines,
        [format!(
            "ssobar: skipped profile \"account-0001-Admin\" (account 100000000001, role Admin): {} has a profile of that name that ssobar did not write; rename it, or choose other names with --template",
            path.display()
        )]
    );

    let written = read_config(&w);
    let (before, after) = outside(&written, &w.session);
    // The last line got its line ending, and a blank line parts the block from it.
    assert_eq!(before, format!("{original}\r\n\r\n"));
    assert_eq!(after, "");
    let text = written;
    assert_eq!(text.matches("[profile account-0001-Admin]").count(), 1);
    assert_eq!(
        text.matches("[profile account-").count(),
        900,
        "899 generated and the hand-written one"
    );
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count() + 1,
        "the block takes the file's CRLF; only the hand-written LF line is LF"
    );
    assert!(text.contains(&format!(
        "[profile account-0299-ReadOnly]\r\nsso_session = {}\r\nsso_account_id = 100000000299\r\nsso_role_name = ReadOnly\r\nregion = us-east-1\r\n",
        w.session
    )));
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_second_run_writes_nothing_and_a_dry_run_then_prints_no_diff() {
    let w = organisation(300);
    w.sandbox.write_config(hand_written(&w));
    populate(&w, &[]).success();
    let first = read_config(&w);
    let written = identity(&w);
    std::thread::sleep(std::time::Duration::from_millis(20));

    let ran = populate(&w, &[]).success();
    assert_eq!(read_config(&w), first);
    assert_eq!(identity(&w), written, "the file was not written again");
    assert!(
        ran.stderr
            .contains("Added 0 profiles, updated 0, kept 899, removed 0"),
        "{}",
        ran.stderr
    );

    let dry = populate(&w, &["--dry-run"]).success();
    assert_eq!(dry.stdout, "");
    assert!(
        dry.stderr.contains("Would add 0 profiles"),
        "{}",
        dry.stderr
    );
    assert_eq!(identity(&w), written);
}

#[test]
fn a_dry_run_prints_the_exact_diff_and_leaves_the_file_alone() {
    let w = organisation(300);
    let original = hand_written(&w);
    w.sandbox.write_config(&original);
    let untouched = identity(&w);

    let dry = populate(&w, &["--dry-run"]).success();
    assert_eq!(read_config(&w), original);
    assert_eq!(identity(&w), untouched);
    let path = config_path(&w).display().to_string();
    let mut diff = dry.stdout.lines();
    assert_eq!(diff.next(), Some(format!("--- a{path}").as_str()));
    assert_eq!(diff.next(), Some(format!("+++ b{path}").as_str()));
    assert!(
        dry.stderr.contains("Would add 899 profiles") && dry.stderr.contains("nothing was written"),
        "{}",
        dry.stderr
    );

    // The diff applied with patch(1) to a copy gives what a real run writes.
    let copy = w.sandbox.home().join("copy");
    std::fs::write(&copy, &original).unwrap();
    let patch = w.sandbox.home().join("populate.diff");
    std::fs::write(&patch, &dry.stdout).unwrap();
    Ran::run(
        std::process::Command::new("patch")
            .arg("--quiet")
            .arg(&copy)
            .arg(&patch),
    )
    .success();
    populate(&w, &[]).success();
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), read_config(&w));
}

#[test]
fn profiles_of_roles_that_are_gone_stay_until_prune_removes_them_and_only_them() {
    let w = organisation(300);
    w.sandbox.write_config(hand_written(&w));
    populate(&w, &[]).success();
    let populated = read_config(&w);

    // Five accounts leave the organisation; account-0001 (whose Admin name is hand-written)
    // is one of them.
    w.fake.update_config(|c| {
        c.accounts.retain(|a| {
            ![
                "account-0001",
                "account-0002",
                "account-0100",
                "account-0200",
                "account-0299",
            ]
            .contains(&a.account_name.as_str())
        });
    });
    let ran = populate(&w, &["--refresh"]).success();
    assert_eq!(
        read_config(&w),
        populated,
        "nothing is removed without --prune"
    );
    assert_eq!(
        ran.stderr
            .matches("is no longer yours (--prune removes it)")
            .count(),
        14,
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains(
        "ssobar: kept profile \"account-0100-Billing\": account 100000000100, role Billing is no longer yours (--prune removes it)"
    ));

    // A mode stricter than 0600 is kept through the rewrite.
    crate::chmod(&config_path(&w), 0o400);
    let ran = populate(&w, &["--prune"]).success();
    assert_eq!(mode(&config_path(&w)), 0o400);
    assert!(
        ran.stderr
            .contains("Added 0 profiles, updated 0, kept 885, removed 14"),
        "{}",
        ran.stderr
    );
    let pruned = read_config(&w);
    assert_eq!(
        outside(&pruned, &w.session),
        outside(&populated, &w.session),
        "nothing outside the block is touched"
    );
    let text = pruned;
    for name in generated_names(300) {
        let gone = ["0001", "0002", "0100", "0200", "0299"]
            .iter()
            .any(|n| name.starts_with(&format!("account-{n}-")));
        let present = text.contains(&format!("[profile {name}]"));
        if name == "account-0001-Admin" {
            assert!(present, "the hand-written profile stays");
        } else {
            assert_eq!(present, !gone, "{name}");
        }
    }
}

#[test]
fn botocore_reads_every_generated_profile_and_gets_credentials_with_one() {
    let w = organisation(300);
    w.sandbox.write_config(hand_written(&w));
    populate(&w, &[]).success();

    let profiles = botocore(&w.sandbox, &["profiles"]);
    for (n, name) in generated_names(300).iter().enumerate() {
        if name == "account-0001-Admin" {
            continue;
        }
        let profile = &profiles[name];
        assert_eq!(profile["sso_session"], w.session.as_str(), "{name}");
        assert_eq!(
            profile["sso_account_id"],
            format!("{}", 100_000_000_000_u64 + (n / 3) as u64),
            "{name}"
        );
        assert_eq!(profile["sso_role_name"], ROLES[n % 3], "{name}");
        assert_eq!(profile["region"], "us-east-1", "{name}");
    }
    assert_eq!(
        profiles["account-0001-Admin"]["region"], "eu-central-1",
        "the hand-written profile is the one botocore sees"
    );

    w.fake.reset_counters();
    let creds = botocore(
        &w.sandbox,
        &["role-credentials", "--profile", "account-0042-ReadOnly"],
    );
    let key = creds["accessKeyId"].as_str().unwrap();
    let issued = w
        .fake
        .credentials(key)
        .expect("the fake issued these credentials");
    assert_eq!(issued.account_id, "100000000042");
    assert!(
        creds["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:sts::100000000042:assumed-role/AWSReservedSSO_ReadOnly_"),
        "{creds}"
    );
    assert_eq!(w.calls(Operation::GetRoleCredentials), 1);
}

/// Counts the times a file is opened, by anyone (inotify): a lock's waiter opens its file
/// each time it tries it.
#[cfg(target_os = "linux")]
struct LockOpens {
    inotify: std::os::fd::OwnedFd,
}

#[cfg(target_os = "linux")]
impl LockOpens {
    fn watch(path: &std::path::Path) -> Self {
        use rustix::fs::inotify::{CreateFlags, WatchFlags, add_watch, init};
        let inotify = init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).unwrap();
        add_watch(&inotify, path, WatchFlags::OPEN).unwrap();
        Self { inotify }
    }

    /// The opens since the last count.
    fn count(&self) -> usize {
        use rustix::fs::inotify::{ReadFlags, Reader};
        let mut buffer = [std::mem::MaybeUninit::uninit(); 4096];
        let mut events = Reader::new(&self.inotify, &mut buffer);
        let mut opens = 0;
        // Until there is nothing more to read (the descriptor does not block).
        while let Ok(event) = events.next() {
            if event.events().contains(ReadFlags::OPEN) {
                opens += 1;
            }
        }
        opens
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_populate_waiting_for_the_lock_keeps_an_edit_made_meanwhile() {
    use std::time::{Duration, Instant};
    let w = organisation(30);
    let original = hand_written(&w);
    w.sandbox.write_config(&original);
    // The directory is cached first, so the run below only waits for the lock.
    w.ssobar(&["accounts", "--sso-session", &w.session])
        .success();

    let path = config_path(&w);
    // Beside the file it guards.
    let lock = w.sandbox.home().join(".aws/.ssobar-locks/config.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let held = std::fs::File::create(&lock).unwrap();
    held.lock().unwrap();
    let opened = LockOpens::watch(&lock);

    let mut child = w.spawn(&["populate", "--sso-session", &w.session]);
    // Proof that it waits: it tries the lock again and again (each try opens the file) and
    // has not ended. One that went ahead without the lock ends here without a try.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tries = 0;
    while tries < 3 {
        if let Some(status) = child.try_wait().unwrap() {
            let ran = Ran::wait(child);
            panic!(
                "populate ended ({status}) while the config's lock was held, after {tries} \
                 tries of it:\n{}",
                ran.stderr
            );
        }
        assert!(Instant::now() < deadline, "populate never tried the lock");
        tries += opened.count();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(read_config(&w), original, "written under a held lock");
    let edited = format!("{original}\r\n[profile edited-meanwhile]\r\nregion = us-west-2\r\n");
    std::fs::write(&path, &edited).unwrap();
    drop(held);

    let pid = child.id();
    let ran = Ran::wait(child).success();
    assert!(ran.stderr.contains("Added 89 profiles"), "{}", ran.stderr);
    // Then it took the lock: a holder writes its pid and command into the lock file.
    let record = std::fs::read_to_string(&lock).unwrap();
    assert_eq!(
        record.lines().collect::<Vec<_>>(),
        [
            pid.to_string(),
            format!("ssobar populate --sso-session {}", w.session)
        ],
        "the lock's holder record"
    );
    let (before, _) = outside(&read_config(&w), &w.session);
    assert_eq!(
        before,
        format!("{edited}\r\n"),
        "the edit made while populate waited is kept"
    );
}

#[test]
fn two_populates_for_two_sessions_at_once_both_land() {
    let w = organisation(300);
    let second = "second";
    let config = w
        .config()
        .sso_session(second, &format!("{}/start", w.fake.url()), "us-east-1")
        .with("sso_registration_scopes", "sso:account:access");
    w.sandbox.write_config(&config);
    let token = std::fs::read(w.sandbox.token_path(&w.session)).unwrap();
    w.sandbox.write_token_bytes(second, &token);

    let template = "{sso_session}-{account_name}-{role_name}";
    let runs: Vec<_> = [w.session.as_str(), second]
        .into_iter()
        .map(|session| w.spawn(&["populate", "--sso-session", session, "--template", template]))
        .collect();
    for child in runs {
        let ran = Ran::wait(child).success();
        assert!(ran.stderr.contains("Added 900 profiles"), "{}", ran.stderr);
    }
    let text = read_config(&w);
    let blocks = text
        .strip_prefix(config.text())
        .expect("the config before both blocks");
    for session in [w.session.as_str(), second] {
        let header = format!("[profile {session}-account-");
        assert_eq!(blocks.matches(&header).count(), 900, "{session}");
        let line = format!("sso_session = {session}\n");
        assert_eq!(blocks.matches(&line).count(), 900, "{session}");
    }
}

#[test]
fn damaged_markers_fail_with_one_line_and_leave_the_file_alone() {
    let w = organisation(3);
    let damaged = format!(
        "{}# END ssobar populate: sso-session \"{}\"\n",
        w.config().text(),
        w.session
    );
    w.sandbox.write_config(&damaged);
    let ran = populate(&w, &[]).expect_code(1);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    let line = damaged.lines().count();
    assert!(
        ran.stderr.starts_with(&format!(
            "ssobar: {}:{line}: an \"# END ssobar populate\" line without its BEGIN line; fix or delete",
            config_path(&w).display()
        )),
        "{}",
        ran.stderr
    );
    assert_eq!(read_config(&w), damaged);
}

#[test]
fn an_unknown_placeholder_is_a_usage_error_before_any_call() {
    let w = organisation(3);
    let ran = populate(&w, &["--template", "{account}-{role_name}"]).expect_code(2);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("unknown placeholder {account}"),
        "{}",
        ran.stderr
    );
    assert_eq!(w.calls(Operation::ListAccounts), 0);
}

#[test]
fn a_profile_of_the_credentials_file_is_a_collision_too() {
    let w = organisation(3);
    let credentials = w.sandbox.home().join(".aws/credentials");
    std::fs::write(
        &credentials,
        "[account-0000-Admin]\naws_access_key_id = AKIAEXAMPLEKEY\n",
    )
    .unwrap();
    let ran = populate(&w, &[]).success();
    assert!(
        ran.stderr.contains(&format!(
            "ssobar: skipped profile \"account-0000-Admin\" (account 100000000000, role Admin): {} has a profile of that name",
            credentials.display()
        )),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("Added 8 profiles"), "{}", ran.stderr);
    assert!(!read_config(&w).contains("[profile account-0000-Admin]"));
}

#[test]
fn an_expired_session_with_no_app_and_no_terminal_fails_with_one_line_and_writes_nothing() {
    let w = World::start(SSOBAR, FakeConfig::default(), BrowserMode::Ignore);
    w.seed_sign_in_with(-60, &[]);
    let before = read_config(&w);
    let ran = populate(&w, &[]).expect_code(1);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("run \"ssobar login --sso-session {}\"", w.session)),
        "{}",
        ran.stderr
    );
    assert_eq!(w.calls(Operation::ListAccounts), 0);
    assert_eq!(read_config(&w), before);
}
