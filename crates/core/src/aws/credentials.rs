//! Temporary AWS credentials as the AWS tools hand them around: for the SDK's signer and in
//! the `credential_process` output format.

use crate::util::secret::Secret;
use crate::util::time::format_timestamp;
use jiff::Timestamp;
use serde::Serialize;

/// Temporary AWS credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret,
    /// Session token (always present for SSO and AssumeRole credentials).
    pub session_token: Option<Secret>,
    /// When they stop working.
    pub expiration: Timestamp,
}

impl AwsCredentials {
    /// The same credentials for the AWS SDK and signer.
    pub fn sdk_credentials(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose(),
            self.session_token.as_ref().map(|t| t.expose().to_owned()),
            u64::try_from(self.expiration.as_second())
                .ok()
                .map(|secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)),
            "ssobar",
        )
    }

    /// The `credential_process` output format (Version 1).
    pub fn credential_process_json(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct ProcessOutput<'a> {
            version: u8,
            access_key_id: &'a str,
            secret_access_key: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            session_token: Option<&'a str>,
            expiration: String,
        }
        let output = ProcessOutput {
            version: 1,
            access_key_id: &self.access_key_id,
            secret_access_key: self.secret_access_key.expose(),
            session_token: self.session_token.as_ref().map(Secret::expose),
            expiration: format_timestamp(self.expiration),
        };
        // A struct of strings always serializes.
        serde_json::to_string(&output).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_process_json_is_version_1() {
        let creds = AwsCredentials {
            access_key_id: "ASIA".into(),
            secret_access_key: "s".into(),
            session_token: Some("t".into()),
            expiration: "2024-05-01T12:00:00Z".parse().unwrap(),
        };
        assert_eq!(
            creds.credential_process_json(),
            r#"{"Version":1,"AccessKeyId":"ASIA","SecretAccessKey":"s","SessionToken":"t","Expiration":"2024-05-01T12:00:00Z"}"#
        );
    }
}
