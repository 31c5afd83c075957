//! The router, and the layer that counts, logs, delays and faults every AWS call.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;

use crate::connection::Connection;
use crate::eks::EksError;
use crate::model::{Fault, Operation, Protocol, RequestRecord};
use crate::oidc::OidcError;
use crate::portal::PortalError;
use crate::state::App;
use crate::sts::StsError;
use crate::{admin, eks, federation, oidc, portal, sts};

/// AWS request bodies here are a few kilobytes at most.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The AWS error code of an answer, attached by the handlers for the request log.
#[derive(Debug, Clone)]
pub(crate) struct ErrorCode(pub String);

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/client/register", post(oidc::register_client))
        .route(
            "/device_authorization",
            post(oidc::start_device_authorization),
        )
        .route("/token", post(oidc::create_token))
        .route("/authorize", get(oidc::authorize))
        .route("/device", get(oidc::device_page))
        .route("/start", get(oidc::start_page))
        .route("/federation/credentials", get(portal::get_role_credentials))
        .route("/federation", get(federation::federation))
        .route("/assignment/accounts", get(portal::list_accounts))
        .route("/assignment/roles", get(portal::list_account_roles))
        .route("/logout", post(portal::logout))
        .route("/", get(sts::presigned).post(sts::query_api))
        .route("/clusters/{name}", get(eks::describe_cluster))
        .route("/clusters", get(eks::list_clusters))
        .merge(admin::routes())
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(app.clone(), track_call))
        .with_state(app)
}

/// Tags `response` with its AWS error code, for the request log.
pub(crate) fn with_error_code(mut response: Response, code: &str) -> Response {
    response.extensions_mut().insert(ErrorCode(code.to_owned()));
    response
}

/// A rest-json AWS error: `x-amzn-ErrorType` names the exception, which also goes in the log.
pub(crate) fn json_error(status: StatusCode, exception: &str, body: serde_json::Value) -> Response {
    with_error_code(
        (status, [("x-amzn-ErrorType", exception)], axum::Json(body)).into_response(),
        exception,
    )
}

/// A redirect the configuration lists for the path ([`FakeConfig::redirects`]), else the error
/// AWS answers an unknown operation with.
///
/// [`FakeConfig::redirects`]: crate::FakeConfig::redirects
async fn unknown_route(State(app): State<App>, request: Request) -> Response {
    let location = app
        .world()
        .config
        .redirects
        .get(request.uri().path())
        .cloned();
    if let Some(location) = location {
        return (StatusCode::FOUND, [("location", location)]).into_response();
    }
    json_error(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        serde_json::json!({"message": "Unknown operation"}),
    )
}

/// Counts the call, applies latency and any injected fault, and logs the answer.
async fn track_call(State(app): State<App>, request: Request, next: Next) -> Response {
    let arrived = Timestamp::now();
    let (parts, body) = request.into_parts();
    // STS names its action in the body, so the body is read before routing.
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let operation = Operation::of_request(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &body,
    );
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let k8s_aws_id = parts
        .headers
        .get("x-k8s-aws-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let connection = parts
        .extensions
        .get::<ConnectInfo<Connection>>()
        .map(|info| info.0.clone());
    let request = Request::from_parts(parts, Body::from(body));
    let Some(operation) = operation else {
        return next.run(request).await;
    };

    let _in_flight = InFlight::start(&app, operation);
    let (fault, latency_ms) = {
        let mut world = app.world();
        world.count(operation);
        (world.take_fault(operation), world.config.latency_ms)
    };
    let mut delay = Duration::from_millis(latency_ms);
    if let Some(Fault::Latency(extra)) = fault {
        delay += extra;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match fault {
        Some(Fault::ServerError) => server_error(operation),
        Some(Fault::Throttle) => throttled(operation),
        Some(Fault::ConnectionReset) => {
            if let Some(connection) = connection {
                connection.reset();
            }
            // Never sent: the connection fails at its first write.
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Some(Fault::MalformedJson) => malformed(operation),
        _ => next.run(request).await,
    };

    let error_code = response
        .extensions()
        .get::<ErrorCode>()
        .map(|code| code.0.clone());
    app.world().log(RequestRecord {
        operation,
        method,
        path,
        // A reset connection carries no answer at all.
        status: if fault == Some(Fault::ConnectionReset) {
            0
        } else {
            response.status().as_u16()
        },
        error_code,
        k8s_aws_id,
        timestamp: arrived,
    });
    response
}

/// One call being answered, counted in flight until dropped: also when the client goes away
/// and the answer's future is dropped half way.
struct InFlight {
    app: App,
    operation: Operation,
}

impl InFlight {
    fn start(app: &App, operation: Operation) -> Self {
        app.world().call_started(operation);
        Self {
            app: app.clone(),
            operation,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.app.world().call_ended(self.operation);
    }
}

fn server_error(operation: Operation) -> Response {
    match operation.protocol() {
        Protocol::Oidc => OidcError::server_error().into_response(),
        Protocol::Portal => PortalError::server_error().into_response(),
        Protocol::Sts => StsError::server_error().into_response(),
        Protocol::Eks => EksError::server_error().into_response(),
        Protocol::Browser | Protocol::Signin => oidc::fault_page(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

fn throttled(operation: Operation) -> Response {
    match operation.protocol() {
        Protocol::Oidc => OidcError::throttled().into_response(),
        Protocol::Portal => PortalError::throttled().into_response(),
        Protocol::Sts => StsError::throttled().into_response(),
        Protocol::Eks => EksError::throttled().into_response(),
        Protocol::Browser | Protocol::Signin => oidc::fault_page(StatusCode::TOO_MANY_REQUESTS),
    }
}

/// HTTP 200 with the start of a plausible answer, cut off mid-value: for STS, the operation's
/// own document, so that an XML reader gets as far as it can.
fn malformed(operation: Operation) -> Response {
    let (content_type, body) = match operation.protocol() {
        Protocol::Sts => (
            "text/xml",
            format!(
                "<{operation}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                 <{operation}Result><Credentials><AccessKeyId>ASIA"
            ),
        ),
        Protocol::Browser => ("text/html", "<html><body><p>Sign".to_owned()),
        Protocol::Signin => ("application/json", "{\"SigninToken\": \"".to_owned()),
        Protocol::Oidc | Protocol::Portal | Protocol::Eks => {
            ("application/json", "{\"accessToken\": \"aoa".to_owned())
        }
    };
    (StatusCode::OK, [("content-type", content_type)], body).into_response()
}

/// The decoded query parameters; the last one wins when a name repeats.
pub(crate) fn query_pairs(query: &str) -> HashMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}
