//! `ssobar prompt`: a profile's session as one short segment for a shell prompt (`corp 2h13m`,
//! `corp expired`), read from files only: the AWS config, ssobar's settings and the AWS CLI's
//! token cache. No network, no keychain, no lock: a prompt runs before every command.

use crate::config::AwsConfig;
use crate::env::Env;
use crate::paths::Paths;
use crate::settings::{Settings, TokenStoreKind};
use crate::sso::token_cache::{TokenCache, TokenStore};
use crate::status::{ProfileStatus, SessionState, TokenSnapshot, compute};
use crate::util::time::format_duration;
use jiff::Timestamp;

/// Marks a session inside the warning window (`warning_minutes`): `corp 4m!`.
pub const EXPIRING_MARK: char = '!';

/// The profile the prompt is about: the one asked for, else `SSOBAR_PROFILE` (set by
/// `ssobar exec` in the shell it starts, so the role in use wins), else `AWS_PROFILE`.
pub fn prompt_profile<'a>(asked: Option<&'a str>, env: &'a Env) -> Option<&'a str> {
    asked
        .filter(|p| !p.is_empty())
        .or_else(|| env.get(crate::creds::credential_env::MARKER))
        .or_else(|| env.get("AWS_PROFILE"))
}

/// The segment for a profile's status at `now`: `NAME 2h13m` while valid, `NAME 4m!` inside
/// the warning window, `NAME expired`, `NAME signed out`, `NAME invalid` for a token file
/// that cannot be used, `NAME misconfigured`; nothing for a profile without an SSO session.
pub fn segment(status: &ProfileStatus, now: Timestamp) -> Option<String> {
    let name = &status.profile;
    let left = || {
        let seconds = status
            .expires_at
            .map_or(0, |at| at.duration_since(now).as_secs());
        format_duration(seconds).replace(' ', "")
    };
    let text = match status.state {
        SessionState::Valid => format!("{name} {}", left()),
        SessionState::Expiring => format!("{name} {}{EXPIRING_MARK}", left()),
        SessionState::Expired => format!("{name} expired"),
        SessionState::Missing => format!("{name} signed out"),
        SessionState::Invalid => format!("{name} invalid"),
        SessionState::Misconfigured => format!("{name} misconfigured"),
        SessionState::NotApplicable => return None,
    };
    Some(text)
}

/// The segment for `profile` from the files `env` points at (see [`segment`]); nothing for a
/// profile that is not in the config, and nothing when tokens are kept in the keychain (which
/// a prompt must not open).
pub fn read_segment(env: &Env, profile: &str, now: Timestamp) -> Option<String> {
    let paths = Paths::from_env(env).ok()?;
    // Warnings are for the commands a person reads; a prompt stays one segment.
    let (settings, _warnings) = Settings::load(&paths.settings_file, env);
    if settings.token_store == TokenStoreKind::Keychain {
        return None;
    }
    let config = AwsConfig::load(&paths);
    config.profile(profile)?;
    let cache = TokenCache::from_paths(&paths);
    let tokens: TokenSnapshot = config
        .session_for_profile(profile)
        .ok()
        .map(|session| {
            let token = cache.load(&session.id);
            (session.id, token)
        })
        .into_iter()
        .collect();
    let status = compute(&config, &tokens, now, &settings);
    segment(status.profile(profile)?, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProfileKind;

    fn status(state: SessionState, expires_at: Option<Timestamp>) -> ProfileStatus {
        ProfileStatus {
            profile: "corp".to_owned(),
            kind: ProfileKind::SsoSession,
            sso_session: Some("corp".to_owned()),
            start_url: None,
            sso_region: None,
            account_id: None,
            role_name: None,
            region: None,
            state,
            expires_at,
            refreshable: false,
            detail: None,
            session_id: None,
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    #[test]
    fn the_segment_is_the_profile_and_its_time_left_or_its_state() {
        let now = at(0);
        let cases = [
            (
                SessionState::Valid,
                Some(at(2 * 3600 + 13 * 60 + 5)),
                Some("corp 2h13m"),
            ),
            (
                SessionState::Valid,
                Some(at(3 * 86_400 + 4 * 3600)),
                Some("corp 3d4h"),
            ),
            (
                SessionState::Expiring,
                Some(at(4 * 60 + 30)),
                Some("corp 4m!"),
            ),
            (SessionState::Expiring, Some(at(20)), Some("corp <1m!")),
            (SessionState::Expired, Some(at(-60)), Some("corp expired")),
            (SessionState::Missing, None, Some("corp signed out")),
            (SessionState::Invalid, None, Some("corp invalid")),
            (
                SessionState::Misconfigured,
                None,
                Some("corp misconfigured"),
            ),
            (SessionState::NotApplicable, None, None),
        ];
        for (state, expires_at, want) in cases {
            assert_eq!(
                segment(&status(state, expires_at), now).as_deref(),
                want,
                "{state:?}"
            );
        }
    }

    #[test]
    fn the_profile_asked_for_wins_then_the_one_exec_set_then_aws_profile() {
        let env = Env::from_pairs([("SSOBAR_PROFILE", "live"), ("AWS_PROFILE", "dev")]);
        assert_eq!(prompt_profile(Some("asked"), &env), Some("asked"));
        assert_eq!(prompt_profile(None, &env), Some("live"));
        let env = Env::from_pairs([("AWS_PROFILE", "dev")]);
        assert_eq!(prompt_profile(None, &env), Some("dev"));
        assert_eq!(prompt_profile(None, &Env::default()), None);
    }

    #[test]
    fn read_segment_reads_the_config_and_the_token_file() {
        let home = tempfile::tempdir().unwrap();
        let aws = home.path().join(".aws");
        std::fs::create_dir_all(aws.join("sso/cache")).unwrap();
        std::fs::write(
            aws.join("config"),
            "[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n\n\
             [profile corp]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n\n\
             [profile keys]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n",
        )
        .unwrap();
        let env = Env::from_pairs([("HOME", home.path().display().to_string())]);
        let now = at(0);
        assert_eq!(
            read_segment(&env, "corp", now).as_deref(),
            Some("corp signed out")
        );
        assert_eq!(read_segment(&env, "keys", now), None);
        assert_eq!(read_segment(&env, "nowhere", now), None);
        let paths = Paths::from_env(&env).unwrap();
        let cache = TokenCache::from_paths(&paths);
        let id = crate::config::SessionId::Named("corp".to_owned());
        std::fs::write(
            cache.token_path(&id),
            format!(
                r#"{{"startUrl":"https://x.awsapps.com/start","region":"us-east-1","accessToken":"t","expiresAt":"{}"}}"#,
                crate::util::time::format_timestamp(at(3600 + 60))
            ),
        )
        .unwrap();
        assert_eq!(
            read_segment(&env, "corp", now).as_deref(),
            Some("corp 1h1m")
        );
        assert_eq!(
            read_segment(&env, "corp", at(3600 + 120)).as_deref(),
            Some("corp expired")
        );
    }
}
