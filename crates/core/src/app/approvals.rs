//! Approvals: before the app hands a profile's credentials to a program, the person is asked
//! where the profile's `approve` setting says so (`hour`: once per program and profile for an
//! hour; `each`: every time). Like macOS's keychain asking before an unknown program reads an
//! item, but by profile and program.
//!
//! Rules:
//! - A program is known by its executable's path (what `/proc/PID/exe` names), not by its
//!   name or arguments: another program cannot borrow an approval by calling itself the same.
//! - Requests of one program for one profile that arrive while a question is open are one
//!   question; its answer answers them all.
//! - No answer within the wait is a refusal: nothing is handed out unasked.

use crate::app::channel::Caller;
use crate::settings::Approve;
use jiff::Timestamp;
use std::collections::BTreeMap;

/// How long an `hour` approval lasts, in seconds.
pub const HOUR_SECONDS: i64 = 3600;

/// How an [`Asker`] names a remote shell's host.
const REMOTE_PREFIX: &str = "ssh:";

/// The approval rule for `caller`'s request of a profile whose setting is `approve`: the
/// setting itself for a program of this machine, [`Approve::for_remote`] for a remote shell.
pub fn rule_for(approve: Approve, caller: &Caller) -> Approve {
    match caller.remote {
        Some(_) => approve.for_remote(),
        None => approve,
    }
}

/// A program and the profile it asked for: what an approval is given to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Asker {
    /// The program's executable, else its command line.
    pub program: String,
    /// The profile.
    pub profile: String,
}

impl Asker {
    /// The asker behind `caller`'s request for `profile`: a remote shell's by its host
    /// (`ssh:HOST`), since nothing it says of its programs can be checked from here.
    pub fn of(caller: &Caller, profile: &str) -> Self {
        let program = match &caller.remote {
            Some(host) => format!("{REMOTE_PREFIX}{host}"),
            None => caller
                .exe
                .clone()
                .unwrap_or_else(|| caller.command_line.clone()),
        };
        Self {
            program,
            profile: profile.to_owned(),
        }
    }

    /// The remote host an approval was given to, for an asker of a remote shell.
    pub fn remote_host(&self) -> Option<&str> {
        self.program.strip_prefix(REMOTE_PREFIX)
    }
}

/// What to do with a request, before any question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Hand them out: no approval is needed, or one is still good.
    Open,
    /// Ask the person (or join the question already asked).
    Ask,
}

/// The approvals given and still good.
#[derive(Debug, Default)]
pub struct Approvals {
    until: BTreeMap<Asker, Timestamp>,
}

impl Approvals {
    /// Whether a request of `asker` under `approve` may go on without a question.
    pub fn gate(&self, approve: Approve, asker: &Asker, now: Timestamp) -> Gate {
        match approve {
            Approve::Never => Gate::Open,
            Approve::Each => Gate::Ask,
            Approve::Hour => match self.until.get(asker) {
                Some(until) if *until > now => Gate::Open,
                _ => Gate::Ask,
            },
        }
    }

    /// The person allowed `asker`'s request: remembered for an hour where `approve` says so.
    pub fn allowed(&mut self, approve: Approve, asker: Asker, now: Timestamp) {
        if approve == Approve::Hour {
            self.until
                .insert(asker, crate::util::time::add_seconds(now, HOUR_SECONDS));
        }
    }

    /// Takes back an approval.
    pub fn revoke(&mut self, asker: &Asker) {
        self.until.remove(asker);
    }

    /// The approvals still good at `now`, and until when (expired ones are dropped).
    pub fn current(&mut self, now: Timestamp) -> Vec<(Asker, Timestamp)> {
        self.until.retain(|_, until| *until > now);
        self.until.iter().map(|(a, u)| (a.clone(), *u)).collect()
    }
}

/// The question's title and body: "terraform apply in ~/infra/prod wants prod-admin", as a
/// person knows the program (its command line and folder, the folder under HOME written
/// with `~`).
pub fn question(
    caller: &Caller,
    profile: &str,
    home: Option<&std::path::Path>,
) -> (String, String) {
    let folder = caller.cwd.as_deref().map(|cwd| match home {
        Some(home) => match std::path::Path::new(cwd).strip_prefix(home) {
            Ok(rest) if rest.as_os_str().is_empty() => "~".to_owned(),
            Ok(rest) => format!("~/{}", rest.display()),
            Err(_) => cwd.to_owned(),
        },
        None => cwd.to_owned(),
    });
    if let Some(host) = &caller.remote {
        // The laptop's folder means nothing to a remote request: the host is what matters.
        return (
            format!("{} wants {profile}", caller.command_line),
            format!(
                "A remote shell on {host} asks for the role credentials of profile {profile}. Allow it? Dismiss to deny."
            ),
        );
    }
    let who = match folder {
        Some(folder) => format!("{} in {folder}", caller.command_line),
        None => caller.command_line.clone(),
    };
    (
        format!("{who} wants {profile}"),
        format!("Allow it the role credentials of profile {profile}? Dismiss to deny."),
    )
}

/// A profile and when its credentials are approved, as the window's settings list them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApprovalSetting {
    /// The profile.
    pub profile: String,
    /// Its `approve` setting.
    pub approve: Approve,
}

/// Every profile that leads to an SSO session (the ones the agent hands out), and every
/// profile settings.toml names, with its `approve` setting, by name.
pub fn approval_settings(
    config: &crate::config::AwsConfig,
    settings: &crate::settings::Settings,
) -> Vec<ApprovalSetting> {
    let mut names: std::collections::BTreeSet<String> = config
        .profiles()
        .filter(|p| config.session_for_profile(&p.name).is_ok())
        .map(|p| p.name.clone())
        .collect();
    names.extend(settings.profiles.keys().cloned());
    names
        .into_iter()
        .map(|profile| ApprovalSetting {
            approve: settings.approve(&profile),
            profile,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(exe: &str, line: &str, cwd: &str) -> Caller {
        Caller {
            command: line.split(' ').next().unwrap().into(),
            pid: Some(4242),
            command_line: line.into(),
            cwd: Some(cwd.into()),
            exe: Some(exe.into()),
            remote: None,
        }
    }

    #[test]
    fn an_hour_approval_opens_the_gate_for_that_program_and_profile_for_an_hour() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let terraform = Asker::of(
            &caller("/usr/bin/terraform", "terraform apply", "/"),
            "prod",
        );
        let other = Asker::of(&caller("/tmp/terraform", "terraform apply", "/"), "prod");
        let mut approvals = Approvals::default();
        assert_eq!(approvals.gate(Approve::Never, &terraform, now), Gate::Open);
        assert_eq!(approvals.gate(Approve::Hour, &terraform, now), Gate::Ask);
        approvals.allowed(Approve::Hour, terraform.clone(), now);
        assert_eq!(approvals.gate(Approve::Hour, &terraform, now), Gate::Open);
        assert_eq!(
            approvals.gate(Approve::Hour, &other, now),
            Gate::Ask,
            "another executable of the same name"
        );
        assert_eq!(approvals.gate(Approve::Each, &terraform, now), Gate::Ask);
        let later = crate::util::time::add_seconds(now, HOUR_SECONDS + 1);
        assert_eq!(approvals.gate(Approve::Hour, &terraform, later), Gate::Ask);
        assert!(approvals.current(later).is_empty());

        approvals.allowed(Approve::Each, terraform.clone(), now);
        assert!(approvals.current(now).is_empty(), "each remembers nothing");
        approvals.allowed(Approve::Hour, terraform.clone(), now);
        approvals.revoke(&terraform);
        assert_eq!(approvals.gate(Approve::Hour, &terraform, now), Gate::Ask);
    }

    #[test]
    fn a_remote_shell_is_always_asked_and_approved_by_host_whatever_its_programs_say() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let on = |host: &str, program: &str| Caller {
            command: format!("{program} on {host}"),
            pid: Some(7),
            command_line: format!("{program} on {host}"),
            cwd: Some("/home/me".into()),
            exe: Some("/usr/bin/ssh".into()),
            remote: Some(host.into()),
        };
        let kubectl = on("devbox", "kubectl");
        assert_eq!(rule_for(Approve::Never, &kubectl), Approve::Hour);
        assert_eq!(rule_for(Approve::Each, &kubectl), Approve::Each);
        let local = caller("/usr/bin/kubectl", "kubectl", "/");
        assert_eq!(rule_for(Approve::Never, &local), Approve::Never);

        let mut approvals = Approvals::default();
        let asker = Asker::of(&kubectl, "prod");
        assert_eq!(asker.remote_host(), Some("devbox"));
        let rule = rule_for(Approve::Never, &kubectl);
        assert_eq!(approvals.gate(rule, &asker, now), Gate::Ask);
        approvals.allowed(rule, asker, now);
        let terraform = Asker::of(&on("devbox", "terraform"), "prod");
        assert_eq!(
            approvals.gate(rule, &terraform, now),
            Gate::Open,
            "one approval per host and profile"
        );
        let elsewhere = Asker::of(&on("build-7", "kubectl"), "prod");
        assert_eq!(approvals.gate(rule, &elsewhere, now), Gate::Ask);
        assert_eq!(Asker::of(&local, "prod").remote_host(), None);

        let (title, body) = question(&kubectl, "prod", Some(std::path::Path::new("/home/me")));
        assert_eq!(title, "kubectl on devbox wants prod");
        assert!(body.contains("devbox"), "{body}");
    }

    #[test]
    fn the_question_names_the_program_as_a_person_knows_it() {
        let c = caller(
            "/usr/bin/terraform",
            "terraform apply",
            "/home/me/infra/prod",
        );
        let (title, body) = question(&c, "prod-admin", Some(std::path::Path::new("/home/me")));
        assert_eq!(title, "terraform apply in ~/infra/prod wants prod-admin");
        assert!(body.contains("prod-admin"), "{body}");
    }

    #[test]
    fn the_window_lists_every_sso_profile_and_every_profile_settings_name() {
        use crate::creds::plan::tests::{CHAIN, config};
        let mut settings = crate::settings::Settings::default();
        settings.profiles.insert(
            "gone".into(),
            crate::settings::ProfileSettings {
                approve: Approve::Each,
            },
        );
        let rows = approval_settings(&config(CHAIN), &settings);
        let names: Vec<&str> = rows.iter().map(|r| r.profile.as_str()).collect();
        assert!(
            names.contains(&"dev") && names.contains(&"deploy"),
            "{names:?}"
        );
        assert!(
            !names.contains(&"keys"),
            "a profile with its own keys: {names:?}"
        );
        assert!(
            rows.iter()
                .any(|r| r.profile == "gone" && r.approve == Approve::Each)
        );
    }
}
