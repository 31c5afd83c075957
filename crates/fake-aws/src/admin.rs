//! The fake's own API under `/_fake/`, for tests and scripts in other processes. Real AWS has
//! no such paths, so these never collide with the services' routes and are never counted.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::config::FakeCluster;
use crate::model::{Fault, Operation};
use crate::state::App;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/_fake/state", get(state))
        .route("/_fake/credentials", get(credentials))
        .route("/_fake/config", post(update_config))
        .route("/_fake/fault", post(inject_fault))
        .route("/_fake/revoke-refresh-tokens", post(revoke_refresh_tokens))
        .route("/_fake/expire-device-codes", post(expire_device_codes))
        .route("/_fake/approve-device", post(approve_device))
        .route("/_fake/sessions", post(issue_session))
        .route("/_fake/clusters", post(add_cluster))
        .route("/_fake/reset", post(reset))
}

/// A request the admin API cannot act on, and why.
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, Json(json!({"error": self.0}))).into_response()
    }
}

fn bad_request(problem: impl std::fmt::Display) -> BadRequest {
    BadRequest(problem.to_string())
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, BadRequest> {
    serde_json::from_slice(body).map_err(bad_request)
}

async fn state(State(app): State<App>) -> Response {
    let world = app.world();
    Json(json!({
        "url": app.url,
        "config": world.config,
        "counters": world.counters(),
        "requests": world.requests(),
    }))
    .into_response()
}

async fn credentials(State(app): State<App>) -> Response {
    Json(app.world().credentials.clone()).into_response()
}

/// Merges a partial `FakeConfig` and answers the whole new one.
async fn update_config(State(app): State<App>, body: Bytes) -> Result<Response, BadRequest> {
    let patch: serde_json::Value = parse(&body)?;
    let mut world = app.world();
    world.config = world.config.merge_json(&patch).map_err(bad_request)?;
    Ok(Json(world.config.clone()).into_response())
}

#[derive(Deserialize)]
enum FaultKind {
    ServerError,
    Throttle,
    Latency,
    ConnectionReset,
    MalformedJson,
}

#[derive(Deserialize)]
struct FaultRequest {
    operation: Operation,
    fault: FaultKind,
    #[serde(default = "one")]
    times: usize,
    latency_ms: Option<u64>,
}

fn one() -> usize {
    1
}

async fn inject_fault(State(app): State<App>, body: Bytes) -> Result<Response, BadRequest> {
    let request: FaultRequest = parse(&body)?;
    let fault = match request.fault {
        FaultKind::ServerError => Fault::ServerError,
        FaultKind::Throttle => Fault::Throttle,
        FaultKind::Latency => Fault::Latency(Duration::from_millis(
            request
                .latency_ms
                .ok_or_else(|| bad_request("a Latency fault needs latency_ms"))?,
        )),
        FaultKind::ConnectionReset => Fault::ConnectionReset,
        FaultKind::MalformedJson => Fault::MalformedJson,
    };
    app.world()
        .inject_fault(request.operation, fault, request.times);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn revoke_refresh_tokens(State(app): State<App>) -> StatusCode {
    app.world().revoke_refresh_tokens();
    StatusCode::NO_CONTENT
}

async fn expire_device_codes(State(app): State<App>) -> StatusCode {
    app.world().expire_device_codes();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct ApproveDeviceRequest {
    user_code: String,
}

async fn approve_device(State(app): State<App>, body: Bytes) -> Result<StatusCode, BadRequest> {
    let request: ApproveDeviceRequest = parse(&body)?;
    if app.world().approve_device(&request.user_code) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Ok(StatusCode::NOT_FOUND)
    }
}

#[derive(Deserialize)]
struct SessionRequest {
    start_url: String,
    #[serde(default)]
    scopes: Vec<String>,
    lifetime_seconds: i64,
    registration_lifetime_seconds: Option<i64>,
}

async fn issue_session(State(app): State<App>, body: Bytes) -> Result<Response, BadRequest> {
    let request: SessionRequest = parse(&body)?;
    let scopes: Vec<&str> = request.scopes.iter().map(String::as_str).collect();
    let mut world = app.world();
    let registration_lifetime = request
        .registration_lifetime_seconds
        .unwrap_or(world.config.client_secret_lifetime_seconds);
    let session = world.issue_session(
        &request.start_url,
        &scopes,
        request.lifetime_seconds,
        registration_lifetime,
    );
    Ok(Json(session).into_response())
}

/// Adds a cluster (or replaces the one with its name and region) and answers it as stored,
/// its default region filled in.
async fn add_cluster(State(app): State<App>, body: Bytes) -> Result<Response, BadRequest> {
    let cluster: FakeCluster = parse(&body)?;
    if !valid_cluster_name(&cluster.name) {
        return Err(bad_request(format!(
            "cluster name {:?} must be 1 to 100 letters, digits, '-' and '_', starting with a \
             letter or digit",
            cluster.name
        )));
    }
    app.world().config.upsert_cluster(cluster.clone());
    Ok(Json(cluster).into_response())
}

/// EKS's rule for cluster names; anything else could never be asked for by name.
fn valid_cluster_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Clears the counters and the request log.
async fn reset(State(app): State<App>) -> StatusCode {
    app.world().reset_counters();
    StatusCode::NO_CONTENT
}
