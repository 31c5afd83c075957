//! The access log: every request for a profile's role credentials and what came of it, by the
//! app (as a credential agent) or by a helper on its own. What `ssobar log` prints.
//!
//! Rules:
//! - Never a secret: a record names the profile, the account and role, the program that asked
//!   (its command line, pid and working directory) and the outcome, nothing the credentials
//!   are made of.
//! - JSON lines in [`crate::paths::Paths::access_log`], `0600` in a `0700` folder, each written
//!   with one `write` in append mode, so that concurrent helpers never interleave lines.
//! - Kept 30 days or 10 MB: past [`ROTATE_AT`] bytes, or when its first record is older than
//!   [`KEEP_DAYS`], the file becomes `access.log.1` (replacing the previous one) and a new
//!   one starts; records older than [`KEEP_DAYS`] are never shown.
//! - Logging never fails a request: a log that cannot be written is the caller's warning.

use crate::context::Context;
use crate::creds::plan::Step;
use crate::util::time::{format_timestamp, parse_timestamp};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How many days a record is kept.
pub const KEEP_DAYS: i64 = 30;

/// The size past which the log starts again (the previous one kept beside it): the two
/// together stay under 10 MB.
pub const ROTATE_AT: u64 = 5 * 1024 * 1024;

/// Who answered the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnsweredBy {
    /// The running app, from its memory or through its vault.
    App,
    /// A helper on its own (no app, or one that did not answer).
    Helper,
}

/// What came of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The credentials were handed out.
    HandedOut,
    /// The person denied the request, or did not answer in time.
    Denied,
    /// No credentials: the profile, the session or a call failed.
    Failed,
}

impl Outcome {
    /// As `ssobar log` shows it.
    pub fn word(self) -> &'static str {
        match self {
            Self::HandedOut => "handed out",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

/// One request and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// When, as the AWS tools write timestamps.
    pub time: String,
    /// The profile asked for.
    pub profile: String,
    /// The account of the role handed out, when the profile resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The role (an SSO role's name, or an assumed role's ARN), when the profile resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The program that asked, as a person knows it ("terraform apply").
    pub program: String,
    /// Its process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Its working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The remote shell's host, for a request that came through `ssh -R`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Who answered.
    pub by: AnsweredBy,
    /// What came of it.
    pub outcome: Outcome,
    /// Why it failed, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The account and role a plan ends in: the role whose credentials are handed out.
pub fn role_of(steps: &[Step]) -> (Option<String>, Option<String>) {
    match steps.last() {
        Some(Step::Sso {
            account_id,
            role_name,
            ..
        }) => (Some(account_id.clone()), Some(role_name.clone())),
        Some(Step::Assume { request, .. }) => {
            // arn:aws:iam::ACCOUNT:role/NAME
            let account = request.role_arn.split(':').nth(4).map(str::to_owned);
            (account, Some(request.role_arn.clone()))
        }
        None => (None, None),
    }
}

/// The program that asked, as a record names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Its command line as a person knows it, shortened.
    pub command_line: String,
    /// Its process id.
    pub pid: Option<u32>,
    /// Its working directory.
    pub cwd: Option<String>,
    /// The remote shell's host, for a request that came through `ssh -R`.
    pub host: Option<String>,
}

/// A request as the log records it.
pub struct Request<'a> {
    /// The profile asked for.
    pub profile: &'a str,
    /// Its plan, when it resolved.
    pub steps: Option<&'a [Step]>,
    /// The program that asked.
    pub program: &'a Program,
    /// Who answered.
    pub by: AnsweredBy,
}

/// Records `request` and its `outcome` (with why, when it failed) in the context's access log.
/// Returns the warning to show when the log could not be written: logging never fails a
/// request.
pub fn record(
    ctx: &Context,
    request: &Request<'_>,
    outcome: Outcome,
    detail: Option<String>,
) -> Option<String> {
    let (account, role) = request.steps.map(role_of).unwrap_or_default();
    let entry = AccessRecord {
        time: format_timestamp(ctx.now()),
        profile: request.profile.to_owned(),
        account,
        role,
        program: request.program.command_line.clone(),
        pid: request.program.pid,
        cwd: request.program.cwd.clone(),
        host: request.program.host.clone(),
        by: request.by,
        outcome,
        detail: detail.map(|why| crate::util::text::printable(&why)),
    };
    let log = AccessLog::at(&ctx.paths.access_log);
    log.append(&entry, ctx.now()).err().map(|e| {
        format!(
            "the access log {} could not be written ({e})",
            ctx.paths.access_log.display()
        )
    })
}

/// The log file and the reading and writing of it.
pub struct AccessLog {
    path: PathBuf,
}

impl AccessLog {
    /// The log at `path` (see [`crate::paths::Paths::access_log`]).
    pub fn at(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }

    /// Appends `record`, starting the log again first when it is due (see the module's
    /// rules).
    pub fn append(&self, record: &AccessRecord, now: Timestamp) -> std::io::Result<()> {
        if let Some(folder) = self.path.parent() {
            crate::util::fsutil::ensure_private_dir(folder)?;
        }
        if self.due_for_rotation(now) {
            std::fs::rename(&self.path, self.previous())?;
        }
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&self.path)?.write_all(line.as_bytes())
    }

    fn previous(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".1");
        PathBuf::from(name)
    }

    fn due_for_rotation(&self, now: Timestamp) -> bool {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return false;
        };
        if meta.len() > ROTATE_AT {
            return true;
        }
        self.first_time()
            .is_some_and(|first| now.as_second() - first.as_second() > KEEP_DAYS * 86_400)
    }

    fn first_time(&self) -> Option<Timestamp> {
        use std::io::BufRead;
        let file = std::fs::File::open(&self.path).ok()?;
        let mut first = String::new();
        std::io::BufReader::new(file).read_line(&mut first).ok()?;
        let record: AccessRecord = serde_json::from_str(&first).ok()?;
        parse_timestamp(&record.time).ok()
    }

    /// The records since `since` (and within [`KEEP_DAYS`] of `now`), oldest first; lines
    /// that do not read as records are skipped.
    pub fn read(&self, since: Timestamp, now: Timestamp) -> Vec<AccessRecord> {
        let oldest = now.as_second() - KEEP_DAYS * 86_400;
        let from = since.as_second().max(oldest);
        let mut records = Vec::new();
        for file in [self.previous(), self.path.clone()] {
            let Ok(text) = crate::util::fsutil::read_trusted(&file) else {
                continue;
            };
            records.extend(
                String::from_utf8_lossy(&text)
                    .lines()
                    .filter_map(|line| serde_json::from_str::<AccessRecord>(line).ok())
                    .filter(|record| {
                        parse_timestamp(&record.time).is_ok_and(|t| t.as_second() >= from)
                    }),
            );
        }
        records
    }
}

/// A record as a person reads it, in `ssobar log`'s table and the window's Activity view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActivityRow {
    /// When, in local time ("14:02", or with the date when not today).
    pub when: String,
    /// The profile.
    pub profile: String,
    /// The account, or "-".
    pub account: String,
    /// The role, or "-".
    pub role: String,
    /// The program, with its pid.
    pub program: String,
    /// Its working directory, or "-".
    pub folder: String,
    /// "app" or "helper".
    pub by: String,
    /// "handed out", "denied", "failed: why".
    pub outcome: String,
}

/// The rows of `records`, newest last, every field from the file made printable.
pub fn activity_rows(
    records: &[AccessRecord],
    now: Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Vec<ActivityRow> {
    use crate::util::text::printable;
    records
        .iter()
        .map(|r| ActivityRow {
            when: parse_timestamp(&r.time)
                .map(|t| crate::util::time::format_local(t, now, tz))
                .unwrap_or_else(|_| printable(&r.time)),
            profile: printable(&r.profile),
            account: printable(r.account.as_deref().unwrap_or("-")),
            role: printable(r.role.as_deref().unwrap_or("-")),
            program: match r.pid {
                Some(pid) => format!("{} ({pid})", printable(&r.program)),
                None => printable(&r.program),
            },
            folder: printable(r.cwd.as_deref().unwrap_or("-")),
            by: match r.by {
                AnsweredBy::App => "app".to_owned(),
                AnsweredBy::Helper => "helper".to_owned(),
            },
            outcome: match &r.detail {
                Some(why) => format!("{}: {}", r.outcome.word(), printable(why)),
                None => r.outcome.word().to_owned(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time: &str, profile: &str) -> AccessRecord {
        AccessRecord {
            time: time.into(),
            profile: profile.into(),
            account: Some("111122223333".into()),
            role: Some("Admin".into()),
            program: "terraform apply".into(),
            pid: Some(42),
            cwd: Some("/home/me/infra".into()),
            host: None,
            by: AnsweredBy::App,
            outcome: Outcome::HandedOut,
            detail: None,
        }
    }

    #[test]
    fn records_are_appended_privately_and_read_back_since_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let log = AccessLog::at(&dir.path().join("state/access.log"));
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        log.append(&record("2024-05-01T10:00:00Z", "dev"), now)
            .unwrap();
        log.append(&record("2024-05-01T11:30:00Z", "prod"), now)
            .unwrap();
        let since: Timestamp = "2024-05-01T11:00:00Z".parse().unwrap();
        let read = log.read(since, now);
        assert_eq!(read, [record("2024-05-01T11:30:00Z", "prod")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("state/access.log")), 0o600);
            assert_eq!(mode(&dir.path().join("state")), 0o700);
        }
    }

    #[test]
    fn a_log_past_its_size_or_age_starts_again_and_old_records_are_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let log = AccessLog::at(&path);
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        log.append(&record("2024-03-01T12:00:00Z", "ancient"), now)
            .unwrap();
        // The first record is past 30 days: this append starts a new log.
        log.append(&record("2024-05-01T11:00:00Z", "dev"), now)
            .unwrap();
        assert!(dir.path().join("access.log.1").exists());
        let all = log.read(Timestamp::UNIX_EPOCH, now);
        assert_eq!(all, [record("2024-05-01T11:00:00Z", "dev")]);

        // Past the size: started again, the previous one replaced.
        let big = "x".repeat(usize::try_from(ROTATE_AT).unwrap() + 1);
        std::fs::write(&path, format!("{big}\n")).unwrap();
        log.append(&record("2024-05-01T11:59:00Z", "prod"), now)
            .unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() < 1_000);
        assert_eq!(
            log.read(Timestamp::UNIX_EPOCH, now),
            [record("2024-05-01T11:59:00Z", "prod")]
        );
    }

    #[test]
    fn the_role_of_a_plan_is_its_last_step() {
        use crate::creds::plan::plan;
        use crate::creds::plan::tests::{CHAIN, config};
        let config = config(CHAIN);
        assert_eq!(
            role_of(&plan(&config, "dev").unwrap()),
            (Some("111".into()), Some("Admin".into()))
        );
        assert_eq!(
            role_of(&plan(&config, "deploy").unwrap()),
            (
                Some("222".into()),
                Some("arn:aws:iam::222:role/Deploy".into())
            )
        );
    }
}
