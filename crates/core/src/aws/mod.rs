//! What every AWS client of ssobar shares: endpoint, retries, timeouts, and errors turned into
//! sentences.

pub mod credentials;
pub mod eks_cluster;
pub mod endpoints;
pub mod federation;
pub mod network;
pub mod oidc;
pub mod portal;
pub mod redirect;
pub mod sts;
pub mod transport;
pub mod window;

use crate::aws::endpoints::EndpointError;
use crate::util::text::printable;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use std::time::Duration;

/// Starts an AWS SDK client config the way every ssobar client is built: the region, the
/// endpoint, bounded retries and timeouts. Evaluates to `(builder, endpoint URL)`, or returns
/// the [`CallError`] that refuses the endpoint; callers add credentials where the service
/// needs them.
///
/// Only an `AWS_ENDPOINT_URL_*` override is set by hand: without one the SDK's resolver picks
/// the endpoint, partition included, and [`endpoints::endpoint`](crate::aws::endpoints::endpoint)
/// asks that same resolver for the URL that messages name.
macro_rules! sdk_config {
    ($sdk:ident, $env:expr, $service:expr, $region:expr) => {{
        let endpoint = $crate::aws::endpoints::endpoint($env, $service, $region)?;
        let mut builder = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new($region.to_owned()))
            .retry_config($crate::aws::retry_config())
            .timeout_config($crate::aws::timeout_config());
        if endpoint.source == $crate::aws::endpoints::EndpointSource::Override {
            builder = builder.endpoint_url(&endpoint.url);
        }
        let variant = $crate::aws::endpoints::EndpointVariant::from_env($env);
        builder = builder
            .use_fips(variant.fips)
            .use_dual_stack(variant.dual_stack);
        builder = builder.http_client($crate::aws::transport::sdk_http_client($env)?);
        (builder, endpoint.url)
    }};
}
pub(crate) use sdk_config;

/// Standard retries (throttling and transient errors, with backoff), three attempts.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// The longest one AWS call may take, retries included. Whoever waits for a process that is
/// making one (a credential fetch, a refresh) waits a little longer than this, then gives up.
pub const CALL_BUDGET: Duration = Duration::from_secs(30);

/// Fail fast on a dead network instead of hanging a kubectl call: each attempt is bounded,
/// and so is the call with all its retries.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(CALL_BUDGET)
        .build()
}

/// A failed AWS call, classified so that callers can react and people can read it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No connection (DNS, refused, TLS).
    #[error(
        "cannot reach {endpoint}: {cause}; check the network (and any AWS_ENDPOINT_URL_* setting)"
    )]
    Unreachable {
        /// The host the call went to, as the message names it.
        endpoint: String,
        /// What the connection attempt said.
        cause: String,
    },
    /// The server's certificate is not one this machine trusts: most often a company proxy
    /// that inspects TLS and signs with its own CA.
    #[error(
        "cannot reach {endpoint}: its certificate is not trusted ({cause}); if a company proxy inspects TLS, set AWS_CA_BUNDLE to a PEM file of its CA and run the command again"
    )]
    Untrusted {
        /// The host the call went to, as the message names it.
        endpoint: String,
        /// What the TLS library said.
        cause: String,
    },
    /// No answer in time.
    #[error("{endpoint} did not answer in time")]
    Timeout {
        /// The host the call went to, as the message names it.
        endpoint: String,
    },
    /// Still throttled after the retries.
    #[error("{endpoint} is throttling requests; wait a minute")]
    Throttled {
        /// The host the call went to, as the message names it.
        endpoint: String,
    },
    /// The service failed on its side (HTTP 5xx) on every attempt.
    #[error("{endpoint} failed on its side ({code})")]
    ServerFault {
        /// The host the call went to, as the message names it.
        endpoint: String,
        /// The error type, e.g. `InternalServerException`.
        code: String,
    },
    /// An answer that does not parse: mangled on the way, or not from the service at all.
    #[error("{endpoint} sent an answer that cannot be read")]
    Unreadable {
        /// The host the call went to, as the message names it.
        endpoint: String,
    },
    /// The service answered with an error.
    #[error("{code}: {message}")]
    Service {
        /// The error type, e.g. `InvalidGrantException`.
        code: String,
        /// The service's message.
        message: String,
    },
    /// Anything else (an unparseable answer, say).
    #[error("{0}")]
    Other(String),
    /// No endpoint ssobar will use (a refused override, a region the SDK does not know).
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

impl CallError {
    /// A connection that failed, saying `cause`: [`CallError::Untrusted`] when the server's
    /// certificate was the reason, which no retry or network check mends.
    pub fn unreachable(endpoint: String, cause: String) -> Self {
        if cause.contains("invalid peer certificate") {
            Self::Untrusted { endpoint, cause }
        } else {
            Self::Unreachable { endpoint, cause }
        }
    }

    /// The service error code, when the service answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } | Self::ServerFault { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the same call may well work a little later (the network, the service's load or
    /// a mangled answer), so that the one thing to do is run the command again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. }
            | Self::Timeout { .. }
            | Self::Throttled { .. }
            | Self::ServerFault { .. }
            | Self::Unreadable { .. } => true,
            Self::Untrusted { .. } | Self::Service { .. } | Self::Other(_) | Self::Endpoint(_) => {
                false
            }
        }
    }

    /// Classifies an SDK error. What the other end said is made [printable] first: it ends up
    /// in terminals, notifications and the window.
    pub fn from_sdk<E>(err: SdkError<E, HttpResponse>, endpoint: &str) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let endpoint = endpoint.to_owned();
        match &err {
            SdkError::DispatchFailure(failure) if failure.is_timeout() => {
                Self::Timeout { endpoint }
            }
            SdkError::DispatchFailure(_) => {
                Self::unreachable(endpoint, printable(&innermost_cause(&err)))
            }
            SdkError::TimeoutError(_) => Self::Timeout { endpoint },
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let code = printable(service.err().code().unwrap_or("UnknownError"));
                let message = printable(service.err().message().unwrap_or_default());
                if status == 429
                    || matches!(
                        code.as_str(),
                        "ThrottlingException" | "TooManyRequestsException" | "Throttling"
                    )
                {
                    Self::Throttled { endpoint }
                } else if (200..300).contains(&status) {
                    // A success status is an error here only when its body did not parse.
                    Self::Unreadable { endpoint }
                } else if status >= 500 {
                    Self::ServerFault { endpoint, code }
                } else {
                    Self::Service { code, message }
                }
            }
            SdkError::ResponseError(_) => Self::Unreadable { endpoint },
            _ => Self::Other(printable(&format!("{}", DisplayErrorContext(&err)))),
        }
    }
}

/// The last, most specific cause in an error chain ("Connection refused (os error 111)").
fn innermost_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ssooidc::operation::create_token::CreateTokenError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    #[test]
    fn a_services_message_cannot_move_the_cursor() {
        let answer = CreateTokenError::generic(
            ErrorMetadata::builder()
                .code("Invalid\x1b[1AGrant")
                .message("\x1b[2Jwiped\nout")
                .build(),
        );
        let raw = HttpResponse::new(
            400.try_into().expect("400 is a status code"),
            SdkBody::empty(),
        );
        let error = CallError::from_sdk(SdkError::service_error(answer, raw), "https://x");
        assert_eq!(error.to_string(), "InvalidGrant: wiped out");
    }

    fn answered(status: u16, code: Option<&str>) -> CallError {
        let mut metadata = ErrorMetadata::builder();
        if let Some(code) = code {
            metadata = metadata.code(code);
        }
        let answer = CreateTokenError::generic(metadata.build());
        let raw = HttpResponse::new(status.try_into().expect("a status code"), SdkBody::empty());
        CallError::from_sdk(SdkError::service_error(answer, raw), "https://x")
    }

    #[test]
    fn failures_on_the_services_side_are_worth_another_try_and_refusals_are_not() {
        let fault = answered(500, Some("InternalServerException"));
        assert_eq!(
            fault.to_string(),
            "https://x failed on its side (InternalServerException)"
        );
        assert!(fault.is_transient());
        let garbled = answered(200, None);
        assert_eq!(
            garbled.to_string(),
            "https://x sent an answer that cannot be read"
        );
        assert!(garbled.is_transient());
        assert!(answered(429, None).is_transient());
        assert!(!answered(400, Some("InvalidGrantException")).is_transient());
    }
}
