//! STS (aws-sdk-sts): AssumeRole for role chains, GetCallerIdentity to learn who a profile is.

use crate::aws::credentials::AwsCredentials;
use crate::aws::endpoints::Service;
use crate::aws::{CallError, sdk_config};
use crate::env::Env;
use crate::util::secret::Secret;
use crate::util::text::printable;
use jiff::Timestamp;

/// A client signing with one set of credentials.
#[derive(Clone, Debug)]
pub struct StsClient {
    client: aws_sdk_sts::Client,
    endpoint: String,
}

/// What AssumeRole needs besides the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRole {
    /// The role to assume.
    pub role_arn: String,
    /// The session name (shows in CloudTrail).
    pub session_name: String,
    /// Lifetime in seconds.
    pub duration_seconds: i32,
    /// The external id the role's trust policy asks for.
    pub external_id: Option<String>,
}

/// Who a set of credentials is, every field made printable: `ssobar aws-auth` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The 12-digit account id the credentials belong to.
    pub account: String,
    /// The caller's ARN, e.g. `arn:aws:sts::ACCT:assumed-role/NAME/SESSION`.
    pub arn: String,
    /// The caller's unique id.
    pub user_id: String,
}

impl StsClient {
    /// A client for `region` (at `AWS_ENDPOINT_URL_STS` when set) signing with `credentials`.
    pub fn new(env: &Env, region: &str, credentials: &AwsCredentials) -> Result<Self, CallError> {
        let (builder, endpoint) = sdk_config!(aws_sdk_sts, env, Service::Sts, region);
        let config = builder
            .credentials_provider(credentials.sdk_credentials())
            .build();
        Ok(Self {
            client: aws_sdk_sts::Client::from_conf(config),
            endpoint,
        })
    }

    /// AssumeRole.
    pub async fn assume_role(&self, request: &AssumeRole) -> Result<AwsCredentials, CallError> {
        let out = self
            .client
            .assume_role()
            .role_arn(&request.role_arn)
            .role_session_name(&request.session_name)
            .duration_seconds(request.duration_seconds)
            .set_external_id(request.external_id.clone())
            .send()
            .await
            .map_err(|e| CallError::from_sdk(e, &self.endpoint))?;
        let creds = out
            .credentials()
            .ok_or_else(|| CallError::Other("AssumeRole returned no credentials".into()))?;
        if !is_whole(
            creds.access_key_id(),
            creds.secret_access_key(),
            creds.session_token(),
        ) {
            return Err(CallError::Unreadable {
                endpoint: self.endpoint.clone(),
            });
        }
        Ok(AwsCredentials {
            access_key_id: creds.access_key_id().to_owned(),
            secret_access_key: Secret::new(creds.secret_access_key()),
            session_token: Some(Secret::new(creds.session_token())),
            expiration: Timestamp::from_second(creds.expiration().secs())
                .map_err(|e| CallError::Other(format!("AssumeRole returned a bad expiry: {e}")))?,
        })
    }

    /// GetCallerIdentity.
    pub async fn caller_identity(&self) -> Result<CallerIdentity, CallError> {
        let out = self
            .client
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| CallError::from_sdk(e, &self.endpoint))?;
        // As with AssumeRole, an answer cut short reads as one without the identity.
        if out.arn().is_none_or(str::is_empty) || out.account().is_none_or(str::is_empty) {
            return Err(CallError::Unreadable {
                endpoint: self.endpoint.clone(),
            });
        }
        Ok(CallerIdentity {
            account: printable(out.account().unwrap_or_default()),
            arn: printable(out.arn().unwrap_or_default()),
            user_id: printable(out.user_id().unwrap_or_default()),
        })
    }
}

/// Whether AssumeRole's credentials have every part. The SDK's XML reader takes an answer cut
/// short for one with empty fields, which no AWS answer has: such credentials are refused
/// rather than handed out and kept.
fn is_whole(access_key_id: &str, secret_access_key: &str, session_token: &str) -> bool {
    [access_key_id, secret_access_key, session_token]
        .iter()
        .all(|part| !part.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_with_an_empty_part_are_not_whole() {
        assert!(is_whole("ASIAX", "secret", "token"));
        assert!(!is_whole("ASIA", "", ""));
        assert!(!is_whole("", "secret", "token"));
        assert!(!is_whole("ASIAX", "secret", ""));
    }
}
