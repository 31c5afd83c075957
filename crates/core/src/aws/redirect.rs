//! One hop of a vanity start URL (a company's own name for its AWS access portal): a GET that
//! does not follow the redirect it gets, so that every hop passes [`start_url`]'s https rule
//! before the next is asked. Sent with the HTTP client the SDK clients use, with their
//! connect and attempt timeouts; one attempt, as a browser makes.
//!
//! [`start_url`]: crate::config::start_url

use crate::aws::{CallError, innermost_cause, transport};
use crate::env::Env;
use crate::util::text::printable;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use std::time::Duration;

/// The longest a connection may take to open, as for the SDK clients.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest the answer's head may take, as one attempt of an SDK client.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// What one URL answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hop {
    /// A redirect (301, 302, 303, 307 or 308) to this `Location`, as sent.
    Redirect(String),
    /// Any other answer: the URL is where it leads.
    Arrived,
}

/// Asks URLs for their redirects.
#[derive(Clone, Debug)]
pub struct RedirectProbe {
    connector: SharedHttpConnector,
}

impl RedirectProbe {
    /// A probe on the HTTP client the SDK clients use, trusting and going through what they
    /// do ([`transport::connector`]).
    pub fn new(env: &Env) -> Result<Self, CallError> {
        let connector = transport::connector(
            env,
            &HttpConnectorSettings::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )?;
        Ok(Self { connector })
    }

    /// GETs `url` and says whether it redirects; the body is not read.
    pub async fn hop(&self, url: &str) -> Result<Hop, CallError> {
        let shown = printable(url);
        let mut request = HttpRequest::new(SdkBody::empty());
        request
            .set_uri(url)
            .map_err(|_| CallError::Other(format!("{shown} is not a URL")))?;
        let answer = tokio::time::timeout(ATTEMPT_TIMEOUT, self.connector.call(request))
            .await
            .map_err(|_| CallError::Timeout {
                endpoint: shown.clone(),
            })?
            .map_err(|e| {
                if e.is_timeout() {
                    CallError::Timeout {
                        endpoint: shown.clone(),
                    }
                } else {
                    CallError::unreachable(shown.clone(), printable(&innermost_cause(&e)))
                }
            })?;
        Ok(hop_of(
            answer.status().as_u16(),
            answer.headers().get("location"),
        ))
    }
}

/// What an answer's status and `Location` header make of it.
fn hop_of(status: u16, location: Option<&str>) -> Hop {
    match (status, location) {
        (301 | 302 | 303 | 307 | 308, Some(location)) if !location.trim().is_empty() => {
            Hop::Redirect(location.to_owned())
        }
        _ => Hop::Arrived,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_redirect_status_with_a_location_is_a_hop() {
        for status in [301, 302, 303, 307, 308] {
            assert_eq!(
                hop_of(status, Some("https://corp.awsapps.com/start")),
                Hop::Redirect("https://corp.awsapps.com/start".into())
            );
        }
        assert_eq!(hop_of(302, None), Hop::Arrived);
        assert_eq!(hop_of(302, Some(" ")), Hop::Arrived);
        assert_eq!(hop_of(200, Some("https://x")), Hop::Arrived);
        assert_eq!(hop_of(304, Some("https://x")), Hop::Arrived);
        assert_eq!(hop_of(404, None), Hop::Arrived);
    }
}
