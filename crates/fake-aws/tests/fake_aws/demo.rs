//! The demo HOME: what `aws configure sso` and `aws sso login` would have left.

use std::fs;

use sha1::{Digest, Sha1};
use ssobar_fake_aws::{FakeAws, FakeConfig, demo};

use crate::sdk;

fn seconds_until(cli_time: &str) -> i64 {
    let at: jiff::Timestamp = cli_time
        .parse()
        .unwrap_or_else(|error| panic!("{cli_time}: {error}"));
    at.as_second() - jiff::Timestamp::now().as_second()
}

#[tokio::test]
async fn seeded_home_matches_what_the_aws_cli_leaves() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let world = demo::seed(home.path(), &fake).unwrap();

    assert_eq!(world.config_file, home.path().join(".aws/config"));
    let config = fs::read_to_string(&world.config_file).unwrap();
    for name in ["acme", "acme-sandbox", "acme-legacy-corp"] {
        assert!(
            config.contains(&format!(
                "[sso-session {name}]\nsso_start_url = {}/start\nsso_region = us-east-1\n\
             sso_registration_scopes = sso:account:access\n",
                fake.url()
            )),
            "{config}"
        );
    }
    assert!(
        config.contains(
            "[profile acme-dev]\nsso_session = acme\nsso_account_id = 111122223333\n\
         sso_role_name = AdministratorAccess\nregion = us-east-1\n"
        ),
        "{config}"
    );
    assert_eq!(config.matches("[profile ").count(), 6);
    let names: Vec<_> = world
        .sessions
        .iter()
        .map(|session| session.name.as_str())
        .collect();
    assert_eq!(names, ["acme", "acme-sandbox", "acme-legacy-corp"]);

    let expected_lifetimes = [(8 * 3600, true), (180, false), (-7200, false)];
    for (session, (lifetime, refreshable)) in world.sessions.iter().zip(expected_lifetimes) {
        assert_eq!(session.profiles.len(), 2);
        let file_name = format!(
            "{}.json",
            hex::encode(Sha1::digest(session.name.as_bytes()))
        );
        assert_eq!(session.cache_file, world.cache_dir.join(file_name));
        let token: serde_json::Value =
            serde_json::from_slice(&fs::read(&session.cache_file).unwrap()).unwrap();
        assert_eq!(token["startUrl"], format!("{}/start", fake.url()));
        assert_eq!(token["region"], "us-east-1");
        assert_eq!(token["accessToken"], session.issued.access_token);
        assert_eq!(token["clientId"], session.issued.client_id);
        assert_eq!(token["clientSecret"], session.issued.client_secret);
        let expires_at = token["expiresAt"].as_str().unwrap();
        assert_eq!(
            expires_at.len(),
            "2024-01-01T00:00:00Z".len(),
            "{expires_at}"
        );
        assert!(
            (seconds_until(expires_at) - lifetime).abs() <= 5,
            "{expires_at}"
        );
        let registration = token["registrationExpiresAt"].as_str().unwrap();
        assert!(seconds_until(registration) > 89 * 24 * 3600);
        assert_eq!(token.get("refreshToken").is_some(), refreshable, "{token}");
        assert_eq!(
            token.as_object().unwrap().len(),
            if refreshable { 8 } else { 7 }
        );
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |path: &std::path::Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&world.config_file), 0o600);
        assert_eq!(mode(&world.cache_dir), 0o700);
        assert_eq!(mode(&home.path().join(".aws")), 0o700);
        for session in &world.sessions {
            assert_eq!(mode(&session.cache_file), 0o600);
        }
    }
    let leftovers = fs::read_dir(&world.cache_dir).unwrap().count();
    assert_eq!(leftovers, 3, "no temporary files remain");

    // The tokens are real to the fake.
    let sso = sdk::sso(&fake);
    let fresh = &world.sessions[0].issued;
    sso.list_accounts()
        .access_token(&fresh.access_token)
        .send()
        .await
        .unwrap();
    let expired = &world.sessions[2].issued;
    let error = sso
        .list_accounts()
        .access_token(&expired.access_token)
        .send()
        .await
        .unwrap_err();
    assert!(error.into_service_error().is_unauthorized_exception());
    let acme = &world.sessions[0].issued;
    let refreshed = sdk::refresh(&sdk::oidc(&fake), acme, acme.refresh_token.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.expires_in(), 8 * 3600);
    let sandbox = &world.sessions[1].issued;
    sso.list_accounts()
        .access_token(&sandbox.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sandbox.refresh_token, None,
        "it runs out rather than renewing itself"
    );
}
