//! A throwaway HOME as `aws configure sso` and `aws sso login` would have left it, with
//! sessions the fake really issued: one fresh, one about to expire, one long expired.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::{FakeAws, IssuedSession};

/// A seeded HOME.
#[derive(Debug, Clone)]
pub struct DemoWorld {
    /// The HOME folder.
    pub home: PathBuf,
    /// `HOME/.aws/config`.
    pub config_file: PathBuf,
    /// `HOME/.aws/sso/cache`.
    pub cache_dir: PathBuf,
    /// The sso-sessions, in the order they appear in the config file.
    pub sessions: Vec<DemoSession>,
}

/// One `[sso-session]` of a seeded HOME.
#[derive(Debug, Clone)]
pub struct DemoSession {
    /// The sso-session name.
    pub name: String,
    /// Its token cache file (`<hex sha1 of the name>.json`).
    pub cache_file: PathBuf,
    /// The profiles that use it.
    pub profiles: Vec<String>,
    /// What the fake issued for it.
    pub issued: IssuedSession,
}

/// How a demo session looks: its token lifetime, whether it is refreshable, its profiles as
/// (name, account index, role index, region) into the fake's accounts.
struct SessionPlan {
    name: &'static str,
    lifetime_seconds: i64,
    refreshable: bool,
    profiles: [(&'static str, usize, usize, &'static str); 2],
}

const PLANS: [SessionPlan; 3] = [
    SessionPlan {
        name: "acme",
        lifetime_seconds: 8 * 3600,
        refreshable: true,
        profiles: [
            ("acme-dev", 0, 0, "us-east-1"),
            ("acme-prod", 1, 0, "eu-west-1"),
        ],
    },
    // Not refreshable, so it cannot renew itself: it runs out in front of the newcomer, who
    // gets the notification and signs in.
    SessionPlan {
        name: "acme-sandbox",
        lifetime_seconds: 3 * 60,
        refreshable: false,
        profiles: [
            ("sandbox-admin", 0, 0, "us-west-2"),
            ("sandbox-readonly", 0, 1, "us-west-2"),
        ],
    },
    // Signed in before the session got a refresh token, so only a new sign-in brings it back.
    SessionPlan {
        name: "acme-legacy-corp",
        lifetime_seconds: -2 * 3600,
        refreshable: false,
        profiles: [
            ("legacy-poweruser", 1, 1, "us-east-1"),
            ("legacy-readonly", 1, 0, "us-east-1"),
        ],
    },
];

const SCOPE: &str = "sso:account:access";

/// The AWS CLI's token cache file, field for field.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CachedToken<'a> {
    start_url: &'a str,
    region: &'a str,
    access_token: &'a str,
    expires_at: String,
    client_id: &'a str,
    client_secret: &'a str,
    registration_expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

/// Writes `home/.aws/config` and the SSO token cache, with tokens `fake` issued.
///
/// Profiles take their accounts and roles from the fake's configuration, in order (wrapping
/// around when it has fewer). Folders are 0700, files 0600, each written to a temporary file
/// and renamed into place.
pub fn seed(home: &Path, fake: &FakeAws) -> io::Result<DemoWorld> {
    let config = fake.config();
    let accounts: Vec<_> = config
        .accounts
        .iter()
        .filter(|account| !account.roles.is_empty())
        .collect();
    if accounts.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the fake has no account with a role to build profiles from",
        ));
    }
    let aws_dir = home.join(".aws");
    let cache_dir = aws_dir.join("sso").join("cache");
    for dir in [&aws_dir, &aws_dir.join("sso"), &cache_dir] {
        create_private_dir(dir)?;
    }

    let start_url = format!("{}/start", fake.url());
    let region = config.identity_center_region.as_str();
    let mut config_text = String::new();
    let mut sessions = Vec::new();
    for plan in &PLANS {
        let scopes: &[&str] = if plan.refreshable { &[SCOPE] } else { &[] };
        let issued = fake.issue_session(
            &start_url,
            scopes,
            plan.lifetime_seconds,
            config.client_secret_lifetime_seconds,
        );
        config_text.push_str(&format!(
            "[sso-session {}]\nsso_start_url = {start_url}\nsso_region = {region}\n\
             sso_registration_scopes = {SCOPE}\n\n",
            plan.name
        ));
        let mut profiles = Vec::new();
        for (profile, account_index, role_index, profile_region) in plan.profiles {
            let account = accounts[account_index % accounts.len()];
            let role = &account.roles[role_index % account.roles.len()];
            config_text.push_str(&format!(
                "[profile {profile}]\nsso_session = {}\nsso_account_id = {}\n\
                 sso_role_name = {role}\nregion = {profile_region}\n\n",
                plan.name, account.account_id
            ));
            profiles.push(profile.to_owned());
        }

        let cache_file = cache_dir.join(format!(
            "{}.json",
            hex::encode(Sha1::digest(plan.name.as_bytes()))
        ));
        let token = CachedToken {
            start_url: &start_url,
            region,
            access_token: &issued.access_token,
            expires_at: cli_time(issued.expires_at),
            client_id: &issued.client_id,
            client_secret: &issued.client_secret,
            registration_expires_at: cli_time(issued.registration_expires_at),
            refresh_token: issued.refresh_token.as_deref(),
        };
        let json = serde_json::to_vec(&token).map_err(io::Error::other)?;
        write_private_file(&cache_file, &json)?;
        sessions.push(DemoSession {
            name: plan.name.to_owned(),
            cache_file,
            profiles,
            issued,
        });
    }

    let config_file = aws_dir.join("config");
    write_private_file(&config_file, config_text.as_bytes())?;
    Ok(DemoWorld {
        home: home.to_owned(),
        config_file,
        cache_dir,
        sessions,
    })
}

/// The token cache's time format: UTC `YYYY-MM-DDTHH:MM:SSZ`.
fn cli_time(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Readers never see a half-written file: the content goes to a temporary file in the same
/// folder (created 0600), is synced, and is renamed over the target.
fn write_private_file(path: &Path, content: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(content)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|error| error.error)?;
    Ok(())
}
