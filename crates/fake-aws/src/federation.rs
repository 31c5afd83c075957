//! AWS Sign-In's federation endpoint (`GET /federation`): `getSigninToken` trades credentials
//! the fake issued for a signin token, and `login` with that token signs a browser in to the
//! (pretend) console. As the real endpoint, it answers refusals with an HTML page, not JSON.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::model::IssuedSigninToken;
use crate::oidc::page;
use crate::server::query_pairs;
use crate::state::{App, World, now, random_token, timestamp};

/// A signin token works for 15 minutes, as AWS's do.
const SIGNIN_TOKEN_LIFETIME_SECONDS: i64 = 15 * 60;

/// The `Session` parameter of `getSigninToken`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    session_id: String,
    session_key: String,
    session_token: String,
}

/// The endpoint's answer to what it does not accept: a 400 page.
fn bad_request(why: &str) -> Response {
    page(StatusCode::BAD_REQUEST, "Bad Request", why)
}

pub(crate) async fn federation(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let params = query_pairs(query.as_deref().unwrap_or_default());
    let mut world = app.world();
    match params.get("Action").map(String::as_str) {
        Some("getSigninToken") => get_signin_token(&mut world, &params),
        Some("login") => login(&mut world, &params),
        _ => bad_request("Unknown Action"),
    }
}

fn get_signin_token(
    world: &mut World,
    params: &std::collections::HashMap<String, String>,
) -> Response {
    if params.get("SessionType").map(String::as_str) != Some("json") {
        return bad_request("SessionType must be json");
    }
    let Some(session) = params
        .get("Session")
        .and_then(|text| serde_json::from_str::<Session>(text).ok())
    else {
        return bad_request("Session is missing or is not JSON");
    };
    let Some(issued) = world.credentials(&session.session_id) else {
        return bad_request("The credentials are not valid");
    };
    let whole = issued.secret_access_key == session.session_key
        && issued.session_token == session.session_token;
    if !whole || issued.expiration.as_second() <= now() {
        return bad_request("The credentials are not valid");
    }
    // AWS refuses a console session longer than the credentials of a role chain.
    if params.contains_key("SessionDuration")
        && issued.issued_by == crate::model::Operation::AssumeRole
    {
        return bad_request("SessionDuration is not allowed for role-chained credentials");
    }
    let signin_token = random_token("", 300);
    world.signin_tokens.push(IssuedSigninToken {
        signin_token: signin_token.clone(),
        access_key_id: session.session_id,
        expires_at: timestamp(now().saturating_add(SIGNIN_TOKEN_LIFETIME_SECONDS)),
    });
    Json(json!({ "SigninToken": signin_token })).into_response()
}

/// The console's landing: a page naming the destination, instead of a redirect to the real
/// console, so that a scripted browser following the URL stays on the loopback.
fn login(world: &mut World, params: &std::collections::HashMap<String, String>) -> Response {
    let token = params.get("SigninToken").cloned().unwrap_or_default();
    let known = world
        .signin_tokens
        .iter()
        .find(|issued| issued.signin_token == token)
        .filter(|issued| issued.expires_at.as_second() > now())
        .cloned();
    let Some(issued) = known else {
        return bad_request("The sign-in token is not valid");
    };
    let Some(destination) = params.get("Destination").filter(|d| !d.is_empty()) else {
        return bad_request("Destination is required");
    };
    let issuer = params.get("Issuer").cloned().unwrap_or_default();
    world.console_logins.push(crate::model::ConsoleLogin {
        access_key_id: issued.access_key_id,
        destination: destination.clone(),
        issuer,
    });
    page(
        StatusCode::OK,
        "AWS Management Console",
        &format!("Signed in. The console would open {destination}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FakeConfig;
    use crate::model::{IssuedCredentials, Operation};
    use crate::state::{RoleSession, Shared};
    use std::collections::HashMap;

    fn issued(world: &mut World, by: Operation, lifetime_seconds: i64) -> IssuedCredentials {
        world.issue_credentials(RoleSession {
            account_id: "111122223333".into(),
            role_arn: "arn:aws:iam::111122223333:role/R".into(),
            arn: "arn:aws:sts::111122223333:assumed-role/R/me".into(),
            user_id: "AROA:me".into(),
            issued_by: by,
            lifetime_seconds,
        })
    }

    fn asking(credentials: &IssuedCredentials, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let session = json!({
            "sessionId": credentials.access_key_id,
            "sessionKey": credentials.secret_access_key,
            "sessionToken": credentials.session_token,
        });
        let mut params: HashMap<String, String> = [
            ("Action", "getSigninToken".to_owned()),
            ("SessionType", "json".to_owned()),
            ("Session", session.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            params.insert((*k).to_owned(), (*v).to_owned());
        }
        params
    }

    #[test]
    fn only_whole_unexpired_credentials_it_issued_get_a_token() {
        let shared = Shared::new("http://127.0.0.1:1".into(), FakeConfig::default());
        let mut world = shared.world();
        let good = issued(&mut world, Operation::GetRoleCredentials, 3600);
        assert_eq!(
            get_signin_token(&mut world, &asking(&good, &[])).status(),
            200
        );
        assert_eq!(world.signin_tokens.len(), 1);
        assert_eq!(world.signin_tokens[0].access_key_id, good.access_key_id);

        let mut forged = good.clone();
        forged.secret_access_key.push('x');
        let expired = issued(&mut world, Operation::GetRoleCredentials, -1);
        let chained = issued(&mut world, Operation::AssumeRole, 3600);
        for params in [
            asking(&forged, &[]),
            asking(&expired, &[]),
            asking(&chained, &[("SessionDuration", "3600")]),
            asking(&good, &[("SessionType", "xml")]),
        ] {
            assert_eq!(get_signin_token(&mut world, &params).status(), 400);
        }
        assert_eq!(world.signin_tokens.len(), 1);
        assert_eq!(
            get_signin_token(&mut world, &asking(&chained, &[])).status(),
            200
        );
    }

    #[test]
    fn a_login_needs_a_token_it_issued_and_a_destination() {
        let shared = Shared::new("http://127.0.0.1:1".into(), FakeConfig::default());
        let mut world = shared.world();
        let good = issued(&mut world, Operation::GetRoleCredentials, 3600);
        get_signin_token(&mut world, &asking(&good, &[]));
        let token = world.signin_tokens[0].signin_token.clone();
        let params = |token: &str, destination: &str| -> HashMap<String, String> {
            [
                ("Action", "login"),
                ("Issuer", "me"),
                ("Destination", destination),
                ("SigninToken", token),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
        };
        assert_eq!(
            login(&mut world, &params("nope", "https://x")).status(),
            400
        );
        assert_eq!(login(&mut world, &params(&token, "")).status(), 400);
        assert!(world.console_logins.is_empty());
        assert_eq!(
            login(&mut world, &params(&token, "https://x/#a")).status(),
            200
        );
        assert_eq!(world.console_logins[0].destination, "https://x/#a");
        assert_eq!(world.console_logins[0].access_key_id, good.access_key_id);
    }
}
