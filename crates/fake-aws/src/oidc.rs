//! SSO OIDC (rest-json, unsigned) and its browser pages: `/authorize` for the PKCE flow,
//! `/device` for the device flow, `/start` standing for the access portal.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::server::{json_error, query_pairs, with_error_code};
use crate::state::{
    App, AuthorizationCode, Client, DeviceGrant, DeviceStatus, Tokens, World, now, random_token,
    user_code,
};

pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const KNOWN_GRANTS: [&str; 3] = [DEVICE_CODE_GRANT, "authorization_code", "refresh_token"];
/// Authorization codes are meant to be redeemed right away.
const AUTHORIZATION_CODE_LIFETIME_SECONDS: i64 = 300;

/// An SSO OIDC error: `x-amzn-ErrorType` names the exception, the body carries the OAuth
/// error code.
#[derive(Debug)]
pub(crate) struct OidcError {
    status: StatusCode,
    exception: &'static str,
    error: &'static str,
    description: String,
}

impl OidcError {
    fn new(exception: &'static str, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            exception,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("InvalidRequestException", "invalid_request", description)
    }

    fn invalid_client(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            ..Self::new("InvalidClientException", "invalid_client", description)
        }
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("InvalidGrantException", "invalid_grant", description)
    }

    fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(
            "UnauthorizedClientException",
            "unauthorized_client",
            description,
        )
    }

    pub fn server_error() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            ..Self::new(
                "InternalServerException",
                "server_error",
                "An internal error occurred (injected fault)",
            )
        }
    }

    pub fn throttled() -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            ..Self::new(
                "TooManyRequestsException",
                "too_many_requests",
                "Rate exceeded (injected fault)",
            )
        }
    }
}

impl IntoResponse for OidcError {
    fn into_response(self) -> Response {
        json_error(
            self.status,
            self.exception,
            json!({"error": self.error, "error_description": self.description}),
        )
    }
}

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, OidcError> {
    serde_json::from_slice(body)
        .map_err(|error| OidcError::invalid_request(format!("Malformed request body: {error}")))
}

fn required(value: Option<String>, name: &str) -> Result<String, OidcError> {
    value
        .filter(|value| !value.is_empty())
        .ok_or_else(|| OidcError::invalid_request(format!("{name} is required")))
}

/// Checks the client's id and secret, as every OIDC call after `RegisterClient` does, and
/// answers the client's id and registration.
fn authenticate<'w>(
    world: &'w World,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> Result<(String, &'w Client), OidcError> {
    let (client_id, client) = client_id
        .and_then(|id| world.clients.get_key_value(id))
        .ok_or_else(|| OidcError::invalid_client("Invalid client"))?;
    if client_secret != Some(client.secret.as_str()) {
        return Err(OidcError::invalid_client("Invalid client secret"));
    }
    if client.secret_expires_at <= now() {
        return Err(OidcError::invalid_client("Client secret has expired"));
    }
    Ok((client_id.clone(), client))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterClientRequest {
    client_name: Option<String>,
    client_type: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    grant_types: Vec<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    issuer_url: Option<String>,
}

pub(crate) async fn register_client(
    State(app): State<App>,
    body: Bytes,
) -> Result<Response, OidcError> {
    let request: RegisterClientRequest = parse_body(&body)?;
    required(request.client_name, "clientName")?;
    if request.client_type.as_deref() != Some("public") {
        return Err(OidcError::invalid_request("clientType must be public"));
    }
    if let Some(unknown) = request
        .grant_types
        .iter()
        .find(|grant| !KNOWN_GRANTS.contains(&grant.as_str()))
    {
        return Err(OidcError::new(
            "InvalidClientMetadataException",
            "invalid_client_metadata",
            format!("Unsupported grant type {unknown}"),
        ));
    }
    let wants_code = request
        .grant_types
        .iter()
        .any(|g| g == "authorization_code");
    let bad_redirect = request
        .redirect_uris
        .iter()
        .any(|uri| split_uri(uri).is_none());
    if (wants_code && request.redirect_uris.is_empty()) || bad_redirect {
        return Err(OidcError::new(
            "InvalidRedirectUriException",
            "invalid_redirect_uri",
            "authorization_code clients need absolute http(s) redirect URIs",
        ));
    }
    let mut world = app.world();
    let lifetime = world.config.client_secret_lifetime_seconds;
    let (client_id, client) = world.register_client(
        request.scopes,
        request.grant_types,
        request.redirect_uris,
        request.issuer_url,
        lifetime,
    );
    Ok(Json(json!({
        "clientId": client_id,
        "clientSecret": client.secret,
        "clientIdIssuedAt": now(),
        "clientSecretExpiresAt": client.secret_expires_at,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartDeviceAuthorizationRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    start_url: Option<String>,
}

pub(crate) async fn start_device_authorization(
    State(app): State<App>,
    body: Bytes,
) -> Result<Response, OidcError> {
    let request: StartDeviceAuthorizationRequest = parse_body(&body)?;
    let mut world = app.world();
    let (client_id, client) = authenticate(
        &world,
        request.client_id.as_deref(),
        request.client_secret.as_deref(),
    )?;
    if !client.allows_grant(DEVICE_CODE_GRANT) {
        return Err(OidcError::unauthorized_client(
            "The client is not registered for the device code grant",
        ));
    }
    let start_url = required(request.start_url, "startUrl")?;
    let device_code = random_token("", 86);
    let user_code = user_code();
    let expires_in = world.config.device_code_lifetime_seconds;
    let interval = world.config.device_poll_interval_seconds;
    world.device_grants.insert(
        device_code.clone(),
        DeviceGrant {
            client_id,
            user_code: user_code.clone(),
            start_url,
            expires_at: now().saturating_add(expires_in),
            status: DeviceStatus::Pending,
            pending_answers: 0,
            slow_down_answers: 0,
            redeemed: false,
        },
    );
    let page = world
        .config
        .verification_uri
        .clone()
        .unwrap_or_else(|| format!("{}/device", app.url));
    Ok(Json(json!({
        "deviceCode": device_code,
        "userCode": user_code,
        "verificationUri": page,
        "verificationUriComplete": format!("{page}?user_code={user_code}"),
        "expiresIn": expires_in,
        "interval": interval,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    device_code: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

pub(crate) async fn create_token(
    State(app): State<App>,
    body: Bytes,
) -> Result<Response, OidcError> {
    let request: CreateTokenRequest = parse_body(&body)?;
    let mut world = app.world();
    let (client_id, client) = authenticate(
        &world,
        request.client_id.as_deref(),
        request.client_secret.as_deref(),
    )?;
    let grant_type = required(request.grant_type.clone(), "grantType")?;
    if !KNOWN_GRANTS.contains(&grant_type.as_str()) {
        return Err(OidcError::new(
            "UnsupportedGrantTypeException",
            "unsupported_grant_type",
            format!("Unsupported grant type {grant_type}"),
        ));
    }
    if !client.allows_grant(&grant_type) {
        return Err(OidcError::unauthorized_client(format!(
            "The client is not registered for the {grant_type} grant"
        )));
    }
    let tokens = match grant_type.as_str() {
        DEVICE_CODE_GRANT => redeem_device_code(&mut world, &client_id, request.device_code)?,
        "authorization_code" => redeem_authorization_code(&mut world, &client_id, request)?,
        _ => redeem_refresh_token(&mut world, &client_id, request.refresh_token)?,
    };
    let mut answer = json!({
        "accessToken": tokens.access_token,
        "tokenType": "Bearer",
        "expiresIn": tokens.expires_in,
    });
    if let Some(refresh_token) = tokens.refresh_token {
        answer["refreshToken"] = json!(refresh_token);
    }
    Ok(Json(answer).into_response())
}

fn redeem_device_code(
    world: &mut World,
    client_id: &str,
    device_code: Option<String>,
) -> Result<Tokens, OidcError> {
    let device_code = required(device_code, "deviceCode")?;
    let slow_down_polls = world.config.slow_down_polls;
    let auto_approval = world.config.pending_polls_before_approval;
    let deny = world.config.deny;
    let grant = world
        .device_grants
        .get_mut(&device_code)
        .filter(|grant| grant.client_id == client_id && !grant.redeemed)
        .ok_or_else(|| OidcError::invalid_grant("Invalid device code provided"))?;
    if grant.expires_at <= now() {
        return Err(OidcError::new(
            "ExpiredTokenException",
            "expired_token",
            "Device code has expired",
        ));
    }
    if grant.slow_down_answers < slow_down_polls {
        grant.slow_down_answers += 1;
        return Err(OidcError::new(
            "SlowDownException",
            "slow_down",
            "Client is polling too fast",
        ));
    }
    if auto_approval.is_some_and(|polls| grant.pending_answers >= polls) {
        grant.decide(deny);
    }
    match grant.status {
        DeviceStatus::Pending => {
            grant.pending_answers += 1;
            Err(OidcError::new(
                "AuthorizationPendingException",
                "authorization_pending",
                "Authorization is still pending",
            ))
        }
        DeviceStatus::Denied => Err(OidcError::new(
            "AccessDeniedException",
            "access_denied",
            "The user denied the authorization request",
        )),
        DeviceStatus::Approved => {
            grant.redeemed = true;
            let start_url = grant.start_url.clone();
            let scopes = world
                .clients
                .get(client_id)
                .map(|client| client.scopes.clone())
                .unwrap_or_default();
            let lifetime = world.config.access_token_lifetime_seconds;
            Ok(world.issue_tokens(client_id, scopes, start_url, None, lifetime))
        }
    }
}

fn redeem_authorization_code(
    world: &mut World,
    client_id: &str,
    request: CreateTokenRequest,
) -> Result<Tokens, OidcError> {
    let code = required(request.code, "code")?;
    // Single use: a code is gone after its first redemption attempt, good or bad.
    let grant = world
        .authorization_codes
        .remove(&code)
        .filter(|grant| grant.expires_at > now())
        .ok_or_else(|| OidcError::invalid_grant("Invalid authorization code"))?;
    if grant.client_id != client_id {
        return Err(OidcError::invalid_grant(
            "The authorization code was issued to another client",
        ));
    }
    if request.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(OidcError::invalid_grant(
            "redirectUri does not match the one given to /authorize",
        ));
    }
    let verifier = request.code_verifier.unwrap_or_default();
    world.verifiers_received.push(verifier.clone());
    if code_challenge(&verifier) != grant.code_challenge {
        return Err(OidcError::invalid_grant("Code verifier does not match"));
    }
    let lifetime = world.config.access_token_lifetime_seconds;
    Ok(world.issue_tokens(client_id, grant.scopes, grant.start_url, None, lifetime))
}

fn redeem_refresh_token(
    world: &mut World,
    client_id: &str,
    refresh_token: Option<String>,
) -> Result<Tokens, OidcError> {
    let refresh_token = required(refresh_token, "refreshToken")?;
    let old = world
        .refresh_tokens
        .get_mut(&refresh_token)
        .filter(|token| token.client_id == client_id && !token.spent)
        .ok_or_else(|| OidcError::invalid_grant("Invalid refresh token provided"))?;
    // Rotation: the refresh token used here stops working.
    old.spent = true;
    let (session, scopes, start_url) = (old.session, old.scopes.clone(), old.start_url.clone());
    let lifetime = world.config.access_token_lifetime_seconds;
    Ok(world.issue_tokens(client_id, scopes, start_url, Some(session), lifetime))
}

/// The PKCE S256 challenge of a verifier: base64url(sha256(verifier)) without padding.
pub(crate) fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Splits an absolute http(s) URI into (scheme, host, port, path-and-query).
fn split_uri(uri: &str) -> Option<(&str, &str, Option<&str>, &str)> {
    let (scheme, rest) = uri.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 literal without a port ends with `]`.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    (!host.is_empty()).then_some((scheme, host, port, path))
}

/// Loopback redirect URIs are registered without a port and used with the listener's port.
fn redirect_matches(registered: &str, used: &str) -> bool {
    match (split_uri(registered), split_uri(used)) {
        (Some((scheme, host, _, path)), Some((used_scheme, used_host, _, used_path))) => {
            scheme == used_scheme && host == used_host && path == used_path
        }
        _ => false,
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{}</p></body></html>\n",
        html_escape(message)
    );
    let response = (status, Html(body)).into_response();
    if status.is_success() {
        response
    } else {
        with_error_code(response, title)
    }
}

pub(crate) fn fault_page(status: StatusCode) -> Response {
    page(
        status,
        "Service unavailable",
        "An injected fault: please try again.",
    )
}

/// The browser step of the PKCE flow. The person approves (or, with `deny`, refuses) at once.
pub(crate) async fn authorize(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    match authorize_redirect(&app, query.as_deref().unwrap_or_default()) {
        Ok(location) => {
            let mut response = StatusCode::FOUND.into_response();
            match HeaderValue::from_str(&location) {
                Ok(location) => {
                    response.headers_mut().insert(header::LOCATION, location);
                    response
                }
                Err(_) => page(
                    StatusCode::BAD_REQUEST,
                    "Invalid request",
                    "redirect_uri is not a valid header value",
                ),
            }
        }
        Err(problem) => page(StatusCode::BAD_REQUEST, "Invalid request", &problem),
    }
}

fn authorize_redirect(app: &App, query: &str) -> Result<String, String> {
    let params = query_pairs(query);
    let param = |name: &str| {
        params
            .get(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("{name} is required"))
    };
    if param("response_type")? != "code" {
        return Err("response_type must be code".to_owned());
    }
    if param("code_challenge_method")? != "S256" {
        return Err("code_challenge_method must be S256".to_owned());
    }
    let code_challenge = param("code_challenge")?.clone();
    let redirect_uri = param("redirect_uri")?.clone();
    let client_id = param("client_id")?;
    let state = params.get("state");
    let scopes: Vec<String> = params
        .get("scopes")
        .map(|scopes| scopes.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();

    let mut world = app.world();
    let client = world
        .clients
        .get(client_id)
        .filter(|client| client.secret_expires_at > now())
        .ok_or_else(|| format!("Unknown or expired client {client_id}"))?;
    if !client.allows_grant("authorization_code") {
        return Err("The client is not registered for the authorization_code grant".to_owned());
    }
    if !client
        .redirect_uris
        .iter()
        .any(|registered| redirect_matches(registered, &redirect_uri))
    {
        return Err(format!(
            "redirect_uri {redirect_uri} is not registered for this client"
        ));
    }
    if let Some(scope) = scopes.iter().find(|scope| !client.has_scope(scope)) {
        return Err(format!("scope {scope} is not registered for this client"));
    }
    let scopes = if scopes.is_empty() {
        client.scopes.clone()
    } else {
        scopes
    };
    let start_url = client
        .issuer_url
        .clone()
        .unwrap_or_else(|| format!("{}/start", app.url));

    let mut answer = form_urlencoded::Serializer::new(String::new());
    if world.config.deny {
        answer.append_pair("error", "access_denied");
        answer.append_pair("error_description", "The user denied the request");
    } else {
        let code = random_token("", 64);
        world.authorization_codes.insert(
            code.clone(),
            AuthorizationCode {
                client_id: client_id.clone(),
                redirect_uri: redirect_uri.clone(),
                code_challenge,
                scopes,
                start_url,
                expires_at: now().saturating_add(AUTHORIZATION_CODE_LIFETIME_SECONDS),
            },
        );
        answer.append_pair("code", &code);
    }
    if let Some(state) = state {
        answer.append_pair("state", state);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    Ok(format!("{redirect_uri}{separator}{}", answer.finish()))
}

/// The device verification page: visiting it with a user code is the person approving (or,
/// with `deny`, refusing) the request.
pub(crate) async fn device_page(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let params = query_pairs(query.as_deref().unwrap_or_default());
    let Some(user_code) = params.get("user_code").filter(|code| !code.is_empty()) else {
        let body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Authorize request</title></head>\
            <body><h1>Authorize request</h1><form method=\"get\" action=\"/device\">\
            <label>Code <input name=\"user_code\"></label> <button>Next</button></form></body></html>\n";
        return Html(body).into_response();
    };
    let mut world = app.world();
    let deny = world.config.deny;
    let Some(grant) = world.device_grant_by_user_code(user_code) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Invalid code",
            &format!("No pending request has the code {user_code}."),
        );
    };
    if grant.expires_at <= now() {
        return page(
            StatusCode::BAD_REQUEST,
            "Code expired",
            "This code has expired. Start the sign-in again.",
        );
    }
    grant.decide(deny);
    match grant.status {
        DeviceStatus::Denied => page(
            StatusCode::OK,
            "Request denied",
            "You denied access. You can close this window.",
        ),
        _ => page(
            StatusCode::OK,
            "Request approved",
            "You can close this window and return to your terminal.",
        ),
    }
}

/// Stands for the AWS access portal: the page an `sso_start_url` opens.
pub(crate) async fn start_page() -> Response {
    page(
        StatusCode::OK,
        "AWS access portal (ssobar fake)",
        "This is the start URL of a fake IAM Identity Center.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_example() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn redirect_uris_match_ignoring_the_port() {
        let registered = "http://127.0.0.1/oauth/callback";
        assert!(redirect_matches(
            registered,
            "http://127.0.0.1:53219/oauth/callback"
        ));
        assert!(redirect_matches(registered, registered));
        assert!(!redirect_matches(
            registered,
            "http://127.0.0.1:53219/other"
        ));
        assert!(!redirect_matches(
            registered,
            "http://evil.example:53219/oauth/callback"
        ));
        assert!(!redirect_matches(
            registered,
            "https://127.0.0.1:53219/oauth/callback"
        ));
        assert!(redirect_matches("http://[::1]/cb", "http://[::1]:8080/cb"));
    }
}
