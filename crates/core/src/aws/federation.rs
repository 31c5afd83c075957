//! AWS Sign-In's federation endpoint: role credentials traded for a signin token
//! (`getSigninToken`), which a console login URL carries. No SDK speaks to it, so it is one
//! plain GET sent with the HTTP client the SDK clients use, under their retry and timeout rules.

use crate::aws::credentials::AwsCredentials;
use crate::aws::endpoints::{self, Service};
use crate::aws::{CALL_BUDGET, CallError, innermost_cause};
use crate::env::Env;
use crate::util::secret::Secret;
use crate::util::text::printable;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use rand::Rng;
use std::time::Duration;

/// As many attempts as the SDK clients make ([`retry_config`](crate::aws::retry_config)).
const ATTEMPTS: u32 = 3;

/// The longest a connection may take to open, as for the SDK clients.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest one attempt may take, as for the SDK clients.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The first pause before another attempt; it doubles, with jitter, as the SDK's backoff does.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// A client of the federation endpoint of one partition (or of `AWS_ENDPOINT_URL_SIGNIN`).
#[derive(Clone, Debug)]
pub struct FederationClient {
    connector: SharedHttpConnector,
    federation: String,
}

impl FederationClient {
    /// The federation endpoint for `region`'s partition, or the one `AWS_ENDPOINT_URL_SIGNIN`
    /// names (refused when plain http off loopback, as every override is).
    pub fn new(env: &Env, region: &str) -> Result<Self, CallError> {
        let endpoint = endpoints::endpoint(env, Service::Signin, region)?;
        let connector = crate::aws::transport::connector(
            env,
            &HttpConnectorSettings::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )?;
        Ok(Self {
            connector,
            federation: format!("{}/federation", endpoint.url),
        })
    }

    /// The federation URL (`https://signin.aws.amazon.com/federation`), on which the login
    /// URL is built too.
    pub fn federation_url(&self) -> &str {
        &self.federation
    }

    /// `getSigninToken` with `credentials`: the signin token, good for 15 minutes. No
    /// `SessionDuration` is sent (the endpoint refuses one for credentials from a role chain),
    /// so the console session lasts as long as the credentials do.
    pub async fn signin_token(&self, credentials: &AwsCredentials) -> Result<Secret, CallError> {
        let session = serde_json::json!({
            "sessionId": credentials.access_key_id,
            "sessionKey": credentials.secret_access_key.expose(),
            "sessionToken": credentials.session_token.as_ref().map(Secret::expose).unwrap_or_default(),
        });
        let url = Secret::new(format!(
            "{}?Action=getSigninToken&SessionType=json&Session={}",
            self.federation,
            encode(&session.to_string())
        ));
        let attempts = async {
            let mut attempt = 1;
            loop {
                match self.attempt(&url).await {
                    Err(error) if attempt < ATTEMPTS && worth_another_attempt(&error) => {
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                    }
                    answer => return answer,
                }
            }
        };
        tokio::time::timeout(CALL_BUDGET, attempts)
            .await
            .unwrap_or_else(|_| Err(self.timeout()))
    }

    async fn attempt(&self, url: &Secret) -> Result<Secret, CallError> {
        let mut request = HttpRequest::new(SdkBody::empty());
        request
            .set_uri(url.expose())
            // The message names the endpoint only: the query holds the credentials.
            .map_err(|_| CallError::Other(format!("{} is not a URL", self.federation)))?;
        request.headers_mut().insert("accept", "application/json");
        let exchange = async {
            let response = self
                .connector
                .call(request)
                .await
                .map_err(|e| self.connection_error(&e))?;
            let status = response.status().as_u16();
            let body = ByteStream::new(response.into_body())
                .collect()
                .await
                .map_err(|_| self.unreadable())?
                .into_bytes();
            Ok::<_, CallError>((status, body))
        };
        let (status, body) = tokio::time::timeout(ATTEMPT_TIMEOUT, exchange)
            .await
            .map_err(|_| self.timeout())??;
        self.answer(status, &body)
    }

    /// The signin token of an answer, or the error it says.
    fn answer(&self, status: u16, body: &[u8]) -> Result<Secret, CallError> {
        match status {
            200..=299 => serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|json| json["SigninToken"].as_str().map(Secret::new))
                .filter(|token| !token.expose().is_empty())
                .ok_or_else(|| self.unreadable()),
            429 => Err(CallError::Throttled {
                endpoint: self.federation.clone(),
            }),
            500.. => Err(CallError::ServerFault {
                endpoint: self.federation.clone(),
                code: format!("HTTP {status}"),
            }),
            _ => Err(CallError::Service {
                code: format!("HTTP {status}"),
                message: refusal_message(status, body),
            }),
        }
    }

    fn connection_error(&self, error: &ConnectorError) -> CallError {
        if error.is_timeout() {
            self.timeout()
        } else {
            CallError::unreachable(self.federation.clone(), printable(&innermost_cause(error)))
        }
    }

    fn timeout(&self) -> CallError {
        CallError::Timeout {
            endpoint: self.federation.clone(),
        }
    }

    fn unreadable(&self) -> CallError {
        CallError::Unreadable {
            endpoint: self.federation.clone(),
        }
    }
}

/// What an error answer says, in one line. The endpoint answers bad credentials with an HTML
/// page or plain text, not JSON: only a JSON `message` is taken from it, else the status's
/// reason phrase; anything else would be markup in a terminal.
fn refusal_message(status: u16, body: &[u8]) -> String {
    let said = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            ["message", "Message", "errorMessage"]
                .iter()
                .find_map(|key| json[key].as_str().map(printable))
        })
        .filter(|message| !message.is_empty());
    said.unwrap_or_else(|| {
        http::StatusCode::from_u16(status)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or("refused")
            .to_owned()
    })
}

/// The failures the SDK clients retry: the network, the service's own faults, throttling.
fn worth_another_attempt(error: &CallError) -> bool {
    matches!(
        error,
        CallError::Unreachable { .. }
            | CallError::Timeout { .. }
            | CallError::Throttled { .. }
            | CallError::ServerFault { .. }
    )
}

/// The pause after attempt `attempt` (1-based): doubling from [`FIRST_BACKOFF`], with full jitter
/// on the upper half so that many clients do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let ceiling = FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    let half = ceiling / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

/// `text` percent-encoded for a query value: everything but the unreserved characters of
/// RFC 3986, so that `&`, `=`, `#`, `+` and `%` arrive as they were.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> FederationClient {
        let env = Env::from_pairs([("AWS_ENDPOINT_URL_SIGNIN", "http://127.0.0.1:9")]);
        FederationClient::new(&env, "us-east-1").unwrap()
    }

    #[test]
    fn query_values_are_encoded_so_that_they_decode_back_exactly() {
        let text = r#"{"a":"b c&d=e#f+g%h/i?j"} ünï"#;
        let encoded = encode(text);
        assert!(
            encoded
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.~%".contains(c)),
            "{encoded}"
        );
        let decoded: String = form_urlencoded::parse(format!("x={encoded}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        assert_eq!(decoded, text);
        assert_eq!(encode("a b"), "a%20b");
    }

    #[test]
    fn a_token_comes_only_from_a_whole_json_answer() {
        let c = client();
        assert_eq!(
            c.answer(200, br#"{"SigninToken":"tok"}"#).unwrap().expose(),
            "tok"
        );
        for body in [&b"<html>"[..], b"{}", br#"{"SigninToken":""}"#, b""] {
            assert_eq!(
                c.answer(200, body).unwrap_err().to_string(),
                "http://127.0.0.1:9/federation sent an answer that cannot be read"
            );
        }
    }

    #[test]
    fn refusals_are_one_line_whatever_the_body() {
        let c = client();
        let html =
            b"<html>\n<head><title>400 Bad Request</title></head>\n<body>\x1b[2J</body></html>";
        let error = c.answer(400, html).unwrap_err();
        assert_eq!(error.to_string(), "HTTP 400: Bad Request");
        assert!(!error.is_transient());
        let json = c
            .answer(403, b"{\"message\":\"Access\\ndenied\"}")
            .unwrap_err();
        assert_eq!(json.to_string(), "HTTP 403: Access denied");
        assert_eq!(
            c.answer(499, b"").unwrap_err().to_string(),
            "HTTP 499: refused"
        );
        let fault = c.answer(502, b"<html>").unwrap_err();
        assert!(fault.is_transient() && worth_another_attempt(&fault));
        assert!(worth_another_attempt(&c.answer(429, b"").unwrap_err()));
        assert!(!worth_another_attempt(&c.answer(400, b"").unwrap_err()));
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        for attempt in 1..=3 {
            let ceiling = FIRST_BACKOFF * 2u32.pow(attempt - 1);
            let pause = backoff(attempt);
            assert!(pause >= ceiling / 2 && pause <= ceiling, "{pause:?}");
        }
    }
}
