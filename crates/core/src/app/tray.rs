//! The tray: its icon, tooltip and menu, as pure functions of the session status, so the app
//! only renders them and every rule is tested without a display.

use crate::app::actions::{
    SessionAction, SignInNeed, expired_sessions, session_actions, sign_in_need,
};
use crate::app::activity::Activity;
use crate::app::approvals::Asker;
use crate::app::channel::waiting_line;
use crate::app::directory::{RoleAction, RoleRef, account_label, profile_for, role_actions};
use crate::app::first_run;
use crate::app::notices::counted;
use crate::config::SessionId;
use crate::sso::accounts::Directory;
use crate::status::{SessionState, SessionStatus, Status};
use crate::util::time::format_duration;
use jiff::Timestamp;

/// The icon: the worst state at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrayState {
    /// No session is signed in and none needs a sign-in (a config with no SSO session, say):
    /// nothing is valid, so not green.
    Neutral,
    /// Every signed-in session is valid.
    Ok,
    /// A session is within its warning window.
    Expiring,
    /// A session has expired (or its token is unusable).
    Expired,
    /// A sign-in or refresh is running.
    Busy,
}

/// The icon for this status: red for a session that ended (expired, unusable, refused a
/// refresh), amber for one in its warning window, neutral when no session is signed in. A
/// session that was never signed in (`missing`) does not turn the icon red: many configs name
/// sessions their owner rarely uses.
pub fn tray_state(status: &Status, activity: &Activity) -> TrayState {
    if !activity.busy.is_empty() {
        TrayState::Busy
    } else if status
        .sessions
        .iter()
        .any(|s| sign_in_need(s, activity) == Some(SignInNeed::Ended))
    {
        TrayState::Expired
    } else if status
        .sessions
        .iter()
        .any(|s| s.state == SessionState::Expiring)
    {
        TrayState::Expiring
    } else if signed_in(status).next().is_none() {
        TrayState::Neutral
    } else {
        TrayState::Ok
    }
}

fn signed_in(status: &Status) -> impl Iterator<Item = &SessionStatus> {
    status.sessions.iter().filter(|s| s.state.is_signed_in())
}

/// The shortest time left of any signed-in session (the macOS menu bar title).
pub fn shortest_left(status: &Status, now: Timestamp) -> Option<String> {
    signed_in(status)
        .filter_map(|s| s.expires_at)
        .min()
        .map(|at| format_duration(at.as_second() - now.as_second()))
}

/// `ssobar: 3 sessions, next expiry in 2h 13m` (and how many need a sign-in: the sessions
/// "Sign in to all expired" counts, busy or not).
pub fn tooltip(status: &Status, activity: &Activity, now: Timestamp) -> String {
    let signed = signed_in(status).count();
    let expired = status
        .sessions
        .iter()
        .filter(|s| sign_in_need(s, activity).is_some_and(SignInNeed::is_urgent))
        .count();
    let mut text = match signed {
        0 if expired == 0 => "ssobar: no SSO sessions signed in".to_owned(),
        0 => "ssobar: no session signed in".to_owned(),
        n => format!(
            "ssobar: {}, next expiry in {}",
            counted(n, "session", "sessions"),
            shortest_left(status, now).unwrap_or_else(|| "?".into())
        ),
    };
    match expired {
        0 => {}
        1 => text.push_str(", 1 needs a sign-in"),
        n => text.push_str(&format!(", {n} need a sign-in")),
    }
    for (session, callers) in &activity.waiting {
        text.push_str("; ");
        text.push_str(&waiting_line(callers, &session.label()));
    }
    text
}

/// What a menu item does.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MenuAction {
    /// Sign in to the session (browser, or device code as configured).
    SignIn(SessionId),
    /// Refresh the session now.
    Refresh(SessionId),
    /// Sign out of the session.
    SignOut(SessionId),
    /// Copy the profile's `export` lines to the clipboard.
    CopyExports(String),
    /// What a role of the session's accounts offers (the "Accounts" submenu).
    Role(RoleAction, RoleRef),
    /// Sign in to every session that needs it.
    SignInAllExpired,
    /// Take back an approval the agent remembers.
    Revoke(Asker),
    /// Open the window on the first run ([`first_run::MENU_LABEL`]).
    SetUp,
    /// Open the window.
    Open,
    /// Quit the app.
    Quit,
}

impl MenuAction {
    /// The menu item id (Tauri menu ids are strings).
    pub fn id(&self) -> String {
        match self {
            Self::SignIn(s) => format!("sign-in|{}", s.key()),
            Self::Refresh(s) => format!("refresh|{}", s.key()),
            Self::SignOut(s) => format!("sign-out|{}", s.key()),
            Self::CopyExports(p) => format!("copy|{p}"),
            Self::Role(action, role) => format!("role|{}|{}", action.as_str(), role.key()),
            Self::Revoke(asker) => format!("revoke|{}|{}", asker.profile, asker.program),
            Self::SignInAllExpired => "sign-in-all".into(),
            Self::SetUp => "set-up".into(),
            Self::Open => "open".into(),
            Self::Quit => "quit".into(),
        }
    }

    /// The action a menu item id names.
    pub fn from_id(id: &str) -> Option<Self> {
        let session = |key: &str| SessionId::from_key(key);
        match id.split_once('|') {
            Some(("sign-in", key)) => session(key).map(Self::SignIn),
            Some(("refresh", key)) => session(key).map(Self::Refresh),
            Some(("sign-out", key)) => session(key).map(Self::SignOut),
            Some(("copy", profile)) => Some(Self::CopyExports(profile.to_owned())),
            Some(("revoke", rest)) => {
                let (profile, program) = rest.split_once('|')?;
                Some(Self::Revoke(Asker {
                    program: program.to_owned(),
                    profile: profile.to_owned(),
                }))
            }
            Some(("role", rest)) => {
                let (action, role) = rest.split_once('|')?;
                Some(Self::Role(
                    RoleAction::from_name(action)?,
                    RoleRef::from_key(role)?,
                ))
            }
            None => match id {
                "sign-in-all" => Some(Self::SignInAllExpired),
                "set-up" => Some(Self::SetUp),
                "open" => Some(Self::Open),
                "quit" => Some(Self::Quit),
                _ => None,
            },
            _ => None,
        }
    }
}

/// One line of the menu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MenuEntry {
    /// Text that does nothing (a section title, a profile of a signed-out session).
    Label(String),
    /// A clickable item.
    Item {
        /// What it does.
        action: MenuAction,
        /// What the menu shows.
        label: String,
        /// Greyed out when false.
        enabled: bool,
    },
    /// A submenu.
    Submenu {
        /// What the parent menu shows.
        label: String,
        /// What opens beside it.
        entries: Vec<MenuEntry>,
    },
    /// A line between sections.
    Separator,
}

fn section_title(session: &SessionStatus, activity: &Activity, now: Timestamp) -> String {
    let label = session.id.label();
    if let Some(callers) = activity.waiting.get(&session.id) {
        return waiting_line(callers, &label);
    }
    let state = if activity.busy.contains(&session.id) {
        "working…".to_owned()
    } else if let Some(refusal) = activity.refresh_failed.get(&session.id) {
        format!("sign-in needed ({})", refusal.reason)
    } else {
        match (session.state, session.expires_at) {
            (SessionState::Valid | SessionState::Expiring, Some(at)) => {
                format!("{} left", format_duration(at.as_second() - now.as_second()))
            }
            (SessionState::Expired, _) => "expired".into(),
            (SessionState::Invalid, _) => "unusable token".into(),
            (SessionState::Missing, _) => "not signed in".into(),
            (state, _) => state.as_str().into(),
        }
    };
    format!("{label} — {state}")
}

fn profile_label(status: &Status, name: &str, activity: &Activity) -> String {
    let Some(p) = status.profile(name) else {
        return name.to_owned();
    };
    let account = p.account_id.as_deref().map(|id| {
        activity
            .account_name(id)
            .map_or_else(|| id.to_owned(), str::to_owned)
    });
    match (account, &p.role_name) {
        (Some(account), Some(role)) => format!("{name}: {account} · {role}"),
        (Some(account), None) => format!("{name}: {account}"),
        _ => name.to_owned(),
    }
}

/// The most accounts the "Accounts" submenu lists: a menu of hundreds of entries cannot be
/// read, and the window's search finds any of them.
pub const MENU_ACCOUNTS_MAX: usize = 40;

/// A session's "Accounts" submenu: account, then role, then what the role offers
/// ([`role_actions`]); past [`MENU_ACCOUNTS_MAX`] accounts, a last item opens the window to
/// search them all. Nothing when the session reaches no account.
fn accounts_submenu(
    status: &Status,
    session: &SessionStatus,
    directory: &Directory,
) -> Option<MenuEntry> {
    if directory.accounts.is_empty() {
        return None;
    }
    let mut accounts: Vec<MenuEntry> = directory
        .accounts
        .iter()
        .take(MENU_ACCOUNTS_MAX)
        .map(|account| MenuEntry::Submenu {
            label: account_label(account),
            entries: account
                .roles
                .iter()
                .map(|role_name| {
                    let role = RoleRef {
                        session: session.id.clone(),
                        account_id: account.account_id.clone(),
                        role_name: role_name.clone(),
                    };
                    let label = match profile_for(status, &role) {
                        Some(profile) => format!("{role_name} ({profile})"),
                        None => role_name.clone(),
                    };
                    MenuEntry::Submenu {
                        label,
                        entries: role_actions(status, &role)
                            .into_iter()
                            .map(|action| MenuEntry::Item {
                                label: action.label().into(),
                                action: MenuAction::Role(action, role.clone()),
                                enabled: true,
                            })
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect();
    let count = directory.accounts.len();
    if count > MENU_ACCOUNTS_MAX {
        accounts.push(MenuEntry::Separator);
        accounts.push(MenuEntry::Item {
            action: MenuAction::Open,
            label: format!("All {count} accounts: search in the window…"),
            enabled: true,
        });
    }
    Some(MenuEntry::Submenu {
        label: format!("Accounts ({count})"),
        entries: accounts,
    })
}

/// "Approved (2)": each program the agent hands a profile's credentials to without asking,
/// for how much longer, with Revoke.
fn approvals_submenu(activity: &Activity, now: Timestamp) -> Option<MenuEntry> {
    if activity.approvals.is_empty() {
        return None;
    }
    let entries = activity
        .approvals
        .iter()
        .map(|(asker, until)| {
            let program = asker.program.rsplit('/').next().unwrap_or(&asker.program);
            MenuEntry::Item {
                action: MenuAction::Revoke(asker.clone()),
                label: format!(
                    "Revoke: {program} for {} ({} left)",
                    asker.profile,
                    format_duration(until.as_second() - now.as_second())
                ),
                enabled: true,
            }
        })
        .collect();
    Some(MenuEntry::Submenu {
        label: format!("Approved ({})", activity.approvals.len()),
        entries,
    })
}

/// The tray menu: a section per session (title with time left, the actions
/// [`session_actions`] offers, its profiles, its accounts), then "Sign in to all expired", "Open ssobar…",
/// "Quit". A busy session's actions are greyed out.
pub fn menu(status: &Status, activity: &Activity, now: Timestamp) -> Vec<MenuEntry> {
    let mut entries = Vec::new();
    for session in &status.sessions {
        let enabled = !activity.busy.contains(&session.id);
        let actions = session_actions(session, activity);
        let item = |action: SessionAction| {
            let (action, label) = match action {
                SessionAction::SignIn => (
                    MenuAction::SignIn(session.id.clone()),
                    format!("Sign in to {}…", session.id.label()),
                ),
                SessionAction::Refresh => (
                    MenuAction::Refresh(session.id.clone()),
                    "Refresh now".into(),
                ),
                SessionAction::SignOut => {
                    (MenuAction::SignOut(session.id.clone()), "Sign out".into())
                }
            };
            MenuEntry::Item {
                action,
                label,
                enabled,
            }
        };
        entries.push(MenuEntry::Label(section_title(session, activity, now)));
        if actions.contains(&SessionAction::SignIn) {
            entries.push(item(SessionAction::SignIn));
        }
        // Exports are offered while the token works and the service has not refused it.
        let exports =
            session.state.is_signed_in() && !activity.refresh_failed.contains_key(&session.id);
        for name in &session.profiles {
            let label = profile_label(status, name, activity);
            if exports {
                entries.push(MenuEntry::Submenu {
                    label,
                    entries: vec![MenuEntry::Item {
                        action: MenuAction::CopyExports(name.clone()),
                        label: "Copy export lines".into(),
                        enabled: true,
                    }],
                });
            } else {
                entries.push(MenuEntry::Label(label));
            }
        }
        if exports && let Some(directory) = activity.directories.get(&session.id) {
            entries.extend(accounts_submenu(status, session, directory));
        }
        for action in [SessionAction::Refresh, SessionAction::SignOut] {
            if actions.contains(&action) {
                entries.push(item(action));
            }
        }
        entries.push(MenuEntry::Separator);
    }
    if status.sessions.is_empty() {
        entries.push(MenuEntry::Item {
            action: MenuAction::SetUp,
            label: first_run::MENU_LABEL.into(),
            enabled: true,
        });
        entries.push(MenuEntry::Separator);
    }
    if let Some(approved) = approvals_submenu(activity, now) {
        entries.push(approved);
    }
    let expired = expired_sessions(status, activity).len();
    entries.push(MenuEntry::Item {
        action: MenuAction::SignInAllExpired,
        label: if expired > 0 {
            format!("Sign in to all expired ({expired})")
        } else {
            "Sign in to all expired".into()
        },
        enabled: expired > 0,
    });
    entries.push(MenuEntry::Item {
        action: MenuAction::Open,
        label: "Open ssobar…".into(),
        enabled: true,
    });
    entries.push(MenuEntry::Item {
        action: MenuAction::Quit,
        label: "Quit".into(),
        enabled: true,
    });
    entries
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::app::activity::RefreshRefusal;
    use crate::app::channel::Caller;
    use crate::config::{AwsConfig, ConfigText, FileKind};
    use crate::settings::Settings;
    use crate::sso::accounts::DirectoryAccount;
    use crate::status::tests::token;
    use crate::status::{TokenSnapshot, compute};

    pub const CONFIG: &str = "\
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
[sso-session lab]
sso_start_url = https://lab.awsapps.com/start
sso_region = us-east-1
[sso-session old]
sso_start_url = https://old.awsapps.com/start
sso_region = us-east-1
[sso-session unused]
sso_start_url = https://unused.awsapps.com/start
sso_region = us-east-1
[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin
[profile lab]
sso_session = lab
sso_account_id = 222222222222
sso_role_name = ReadOnly
[profile old]
sso_session = old
sso_account_id = 333333333333
sso_role_name = ReadOnly
";

    pub fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    /// corp valid for 2h 13m (refreshable), lab expiring in 5m, old expired, unused missing.
    pub fn status_with(lab_expires: &str) -> Status {
        let config = AwsConfig::parse(&[ConfigText {
            path: "c".into(),
            kind: FileKind::Config,
            text: CONFIG.into(),
        }]);
        let tokens: TokenSnapshot = [
            (
                SessionId::Named("corp".into()),
                token(
                    "https://corp.awsapps.com/start",
                    "2024-05-01T14:13:00Z",
                    true,
                ),
            ),
            (
                SessionId::Named("lab".into()),
                token("https://lab.awsapps.com/start", lab_expires, false),
            ),
            (
                SessionId::Named("old".into()),
                token(
                    "https://old.awsapps.com/start",
                    "2024-05-01T11:00:00Z",
                    false,
                ),
            ),
        ]
        .into_iter()
        .collect();
        compute(&config, &tokens, now(), &Settings::default())
    }

    pub fn status() -> Status {
        status_with("2024-05-01T12:05:00Z")
    }

    fn labels(entries: &[MenuEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                MenuEntry::Label(l) => format!("[{l}]"),
                MenuEntry::Item { label, enabled, .. } => {
                    if *enabled {
                        label.clone()
                    } else {
                        format!("({label})")
                    }
                }
                MenuEntry::Submenu { label, .. } => format!("{label} >"),
                MenuEntry::Separator => "---".into(),
            })
            .collect()
    }

    #[test]
    fn the_menu_has_a_section_per_session() {
        let mut activity = Activity::default();
        activity.directories.insert(
            SessionId::Named("corp".into()),
            directory_of(&[("111111111111", Some("acme-dev"), &["Admin"])]),
        );
        let m = menu(&status(), &activity, now());
        assert_eq!(
            labels(&m),
            [
                "[corp — 2h 13m left]",
                "dev: acme-dev · Admin >",
                "Accounts (1) >",
                "Refresh now",
                "Sign out",
                "---",
                "[lab — 5m left]",
                "Sign in to lab…",
                "lab: 222222222222 · ReadOnly >",
                "Sign out",
                "---",
                "[old — expired]",
                "Sign in to old…",
                "[old: 333333333333 · ReadOnly]",
                "Sign out",
                "---",
                "[unused — not signed in]",
                "Sign in to unused…",
                "---",
                "Sign in to all expired (2)",
                "Open ssobar…",
                "Quit",
            ]
        );
    }

    #[test]
    fn refreshable_sessions_can_refresh_and_busy_ones_wait() {
        let s = status();
        let corp = SessionId::Named("corp".into());
        let refresh = |m: &[MenuEntry]| {
            m.iter()
                .find_map(|e| match e {
                    MenuEntry::Item {
                        action: MenuAction::Refresh(id),
                        enabled,
                        ..
                    } if *id == corp => Some(*enabled),
                    _ => None,
                })
                .unwrap()
        };
        let mut with_refresh = s.clone();
        with_refresh.sessions[0].refreshable = true;
        assert!(refresh(&menu(&with_refresh, &Activity::default(), now())));
        let busy = Activity {
            busy: [corp.clone()].into(),
            ..Activity::default()
        };
        let m = menu(&with_refresh, &busy, now());
        assert!(!refresh(&m));
        assert_eq!(labels(&m)[0], "[corp — working…]");
    }

    #[test]
    fn a_failed_refresh_asks_for_a_sign_in() {
        let activity = Activity {
            refresh_failed: [(
                SessionId::Named("corp".into()),
                RefreshRefusal::new("refresh refused", None),
            )]
            .into(),
            ..Activity::default()
        };
        let m = labels(&menu(&status(), &activity, now()));
        assert_eq!(m[0], "[corp — sign-in needed (refresh refused)]");
        assert_eq!(m[1], "Sign in to corp…");
        assert!(!m.contains(&"Refresh now".to_owned()), "{m:?}");
        assert!(m.contains(&"Sign in to all expired (3)".to_owned()));
    }

    #[test]
    fn an_expiring_session_that_cannot_refresh_offers_a_sign_in_not_a_refresh() {
        let m = labels(&menu(&status(), &Activity::default(), now()));
        let lab = m
            .iter()
            .position(|l| l == "[lab — 5m left]")
            .expect("a lab section");
        let section: Vec<&str> = m[lab..]
            .iter()
            .take_while(|l| *l != "---")
            .map(String::as_str)
            .collect();
        assert_eq!(
            section,
            [
                "[lab — 5m left]",
                "Sign in to lab…",
                "lab: 222222222222 · ReadOnly >",
                "Sign out"
            ]
        );
    }

    /// A directory of `(account id, name, roles)`, fetched at the fixture's clock.
    pub fn directory_of(accounts: &[(&str, Option<&str>, &[&str])]) -> Directory {
        Directory {
            fetched_at: now(),
            accounts: accounts
                .iter()
                .map(|(id, name, roles)| DirectoryAccount {
                    account_id: (*id).into(),
                    account_name: name.map(str::to_owned),
                    email_address: None,
                    roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                })
                .collect(),
        }
    }

    fn submenu<'a>(entries: &'a [MenuEntry], label: &str) -> &'a [MenuEntry] {
        entries
            .iter()
            .find_map(|e| match e {
                MenuEntry::Submenu { label: l, entries } if l == label => Some(entries.as_slice()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no submenu {label:?} in {:?}", labels(entries)))
    }

    #[test]
    fn the_accounts_submenu_offers_each_role_and_names_the_profile_that_has_it() {
        let corp = SessionId::Named("corp".into());
        let mut activity = Activity::default();
        activity.directories.insert(
            corp.clone(),
            directory_of(&[
                ("111111111111", Some("acme-dev"), &["Admin", "ReadOnly"]),
                ("444444444444", None, &["Billing"]),
            ]),
        );
        let m = menu(&status(), &activity, now());
        let accounts = submenu(&m, "Accounts (2)");
        assert_eq!(
            labels(accounts),
            ["acme-dev (111111111111) >", "444444444444 >"]
        );
        let acme = submenu(accounts, "acme-dev (111111111111)");
        assert_eq!(labels(acme), ["Admin (dev) >", "ReadOnly >"]);
        assert_eq!(
            labels(submenu(acme, "Admin (dev)")),
            ["Copy export lines", "Open console"]
        );
        let read_only = submenu(acme, "ReadOnly");
        assert_eq!(
            labels(read_only),
            ["Copy export lines", "Open console", "Add profile"]
        );
        let MenuEntry::Item { action, .. } = &read_only[2] else {
            panic!("an item");
        };
        let role = RoleRef {
            session: corp,
            account_id: "111111111111".into(),
            role_name: "ReadOnly".into(),
        };
        assert_eq!(action, &MenuAction::Role(RoleAction::AddProfile, role));
        assert_eq!(MenuAction::from_id(&action.id()).as_ref(), Some(action));

        // An expired session's accounts are not offered: they need its token.
        activity.directories.insert(
            SessionId::Named("old".into()),
            directory_of(&[("333333333333", None, &["ReadOnly"])]),
        );
        let m = menu(&status(), &activity, now());
        assert_eq!(
            labels(&m)
                .iter()
                .filter(|l| l.starts_with("Accounts"))
                .count(),
            1
        );
    }

    #[test]
    fn past_forty_accounts_the_submenu_sends_the_person_to_the_window_search() {
        let ids: Vec<String> = (0..300)
            .map(|i| format!("{:012}", 100_000_000_000u64 + i))
            .collect();
        let accounts: Vec<(&str, Option<&str>, &[&str])> = ids
            .iter()
            .map(|id| (id.as_str(), None, &["Admin", "ReadOnly"][..]))
            .collect();
        let mut activity = Activity::default();
        activity
            .directories
            .insert(SessionId::Named("corp".into()), directory_of(&accounts));
        let m = menu(&status(), &activity, now());
        let listed = labels(submenu(&m, "Accounts (300)"));
        assert_eq!(listed.len(), MENU_ACCOUNTS_MAX + 2);
        assert_eq!(listed[0], "100000000000 >");
        assert_eq!(
            listed.last().unwrap(),
            "All 300 accounts: search in the window…"
        );
    }

    #[test]
    fn a_session_helpers_wait_for_says_who_waits() {
        let old = SessionId::Named("old".into());
        let kubectl = Caller {
            command: "kubectl".into(),
            pid: Some(42),
            command_line: "kubectl".into(),
            cwd: None,
            exe: None,
            remote: None,
        };
        let activity = Activity {
            waiting: [(old.clone(), vec![kubectl])].into(),
            ..Activity::default()
        };
        let m = labels(&menu(&status(), &activity, now()));
        assert!(
            m.contains(&"[kubectl is waiting for old]".to_owned()),
            "{m:?}"
        );
        assert!(m.contains(&"Sign in to old…".to_owned()), "{m:?}");
        assert!(
            tooltip(&status(), &activity, now()).ends_with("; kubectl is waiting for old"),
            "{}",
            tooltip(&status(), &activity, now())
        );
    }

    #[test]
    fn icon_and_tooltip_show_the_worst_state() {
        let s = status();
        let a = Activity::default();
        assert_eq!(tray_state(&s, &a), TrayState::Expired);
        assert_eq!(
            tooltip(&s, &a, now()),
            "ssobar: 2 sessions, next expiry in 5m, 2 need a sign-in"
        );
        assert_eq!(shortest_left(&s, now()).as_deref(), Some("5m"));
        let mut fine = s.clone();
        fine.sessions
            .retain(|x| x.id != SessionId::Named("old".into()));
        assert_eq!(tray_state(&fine, &a), TrayState::Expiring);
        fine.sessions
            .retain(|x| x.id != SessionId::Named("lab".into()));
        assert_eq!(
            tray_state(&fine, &a),
            TrayState::Ok,
            "a never-used session stays neutral"
        );
        let busy = Activity {
            busy: [SessionId::Named("old".into())].into(),
            ..Activity::default()
        };
        assert_eq!(tray_state(&s, &busy), TrayState::Busy);
    }

    #[test]
    fn with_no_session_the_icon_is_neutral_and_the_menu_offers_the_setup() {
        let none = Status::default();
        let a = Activity::default();
        assert_eq!(
            tray_state(&none, &a),
            TrayState::Neutral,
            "nothing is valid"
        );
        assert_eq!(
            labels(&menu(&none, &a, now())),
            [
                "Set up ssobar…",
                "---",
                "(Sign in to all expired)",
                "Open ssobar…",
                "Quit"
            ]
        );
        assert!(menu(&none, &a, now()).contains(&MenuEntry::Item {
            action: MenuAction::SetUp,
            label: first_run::MENU_LABEL.into(),
            enabled: true,
        }));
        // Sessions never signed in: nothing is valid either.
        let mut unused = status();
        unused
            .sessions
            .retain(|x| x.id == SessionId::Named("unused".into()));
        assert_eq!(tray_state(&unused, &a), TrayState::Neutral);
    }

    #[test]
    fn menu_ids_round_trip() {
        for action in [
            MenuAction::SignIn(SessionId::Named("a|b".into())),
            MenuAction::Refresh(SessionId::Legacy("https://x/start".into())),
            MenuAction::SignOut(SessionId::Named("c".into())),
            MenuAction::CopyExports("dev".into()),
            MenuAction::SignInAllExpired,
            MenuAction::SetUp,
            MenuAction::Open,
            MenuAction::Quit,
        ] {
            assert_eq!(MenuAction::from_id(&action.id()), Some(action));
        }
        assert_eq!(MenuAction::from_id("bogus"), None);
    }

    #[test]
    fn approvals_are_listed_with_the_time_left_and_revoke() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let asker = Asker {
            program: "/usr/bin/terraform".into(),
            profile: "prod".into(),
        };
        let activity = Activity {
            approvals: vec![(asker.clone(), "2024-05-01T12:43:00Z".parse().unwrap())],
            ..Activity::default()
        };
        let entries = menu(&Status::default(), &activity, now);
        let approved = entries
            .iter()
            .find_map(|e| match e {
                MenuEntry::Submenu { label, entries } if label == "Approved (1)" => Some(entries),
                _ => None,
            })
            .expect("an Approved submenu");
        let MenuEntry::Item { action, label, .. } = &approved[0] else {
            panic!("{approved:?}");
        };
        assert_eq!(label, "Revoke: terraform for prod (43m left)");
        assert_eq!(
            MenuAction::from_id(&action.id()),
            Some(MenuAction::Revoke(asker))
        );
        assert!(
            !menu(&Status::default(), &Activity::default(), now)
                .iter()
                .any(|e| matches!(e, MenuEntry::Submenu { label, .. } if label.starts_with("Approved"))),
            "no submenu without approvals"
        );
    }
}
