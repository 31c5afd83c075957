use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Every call the fake answers and counts. Displays as the AWS operation name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Operation {
    /// SSO OIDC `RegisterClient` (`POST /client/register`).
    RegisterClient,
    /// SSO OIDC `StartDeviceAuthorization` (`POST /device_authorization`).
    StartDeviceAuthorization,
    /// SSO OIDC `CreateToken` (`POST /token`).
    CreateToken,
    /// The browser step of the PKCE flow (`GET /authorize`).
    Authorize,
    /// The browser's device verification page (`GET /device`).
    DeviceVerification,
    /// SSO portal `GetRoleCredentials` (`GET /federation/credentials`).
    GetRoleCredentials,
    /// SSO portal `ListAccounts` (`GET /assignment/accounts`).
    ListAccounts,
    /// SSO portal `ListAccountRoles` (`GET /assignment/roles`).
    ListAccountRoles,
    /// SSO portal `Logout` (`POST /logout`).
    Logout,
    /// STS `AssumeRole`.
    AssumeRole,
    /// STS `GetCallerIdentity`, signed in headers or presigned in the query.
    GetCallerIdentity,
    /// EKS `DescribeCluster` (`GET /clusters/{name}`).
    DescribeCluster,
    /// AWS Sign-In `getSigninToken` (`GET /federation?Action=getSigninToken`).
    GetSigninToken,
    /// The browser's console sign-in with a signin token (`GET /federation?Action=login`).
    ConsoleLogin,
    /// EKS `ListClusters` (`GET /clusters`).
    ListClusters,
}

impl Operation {
    /// All operations, in a stable order.
    pub const ALL: [Operation; 15] = [
        Operation::RegisterClient,
        Operation::StartDeviceAuthorization,
        Operation::CreateToken,
        Operation::Authorize,
        Operation::DeviceVerification,
        Operation::GetRoleCredentials,
        Operation::ListAccounts,
        Operation::ListAccountRoles,
        Operation::Logout,
        Operation::AssumeRole,
        Operation::GetCallerIdentity,
        Operation::DescribeCluster,
        Operation::GetSigninToken,
        Operation::ConsoleLogin,
        Operation::ListClusters,
    ];

    /// The AWS name of the operation.
    pub fn name(self) -> &'static str {
        match self {
            Operation::RegisterClient => "RegisterClient",
            Operation::StartDeviceAuthorization => "StartDeviceAuthorization",
            Operation::CreateToken => "CreateToken",
            Operation::Authorize => "Authorize",
            Operation::DeviceVerification => "DeviceVerification",
            Operation::GetRoleCredentials => "GetRoleCredentials",
            Operation::ListAccounts => "ListAccounts",
            Operation::ListAccountRoles => "ListAccountRoles",
            Operation::Logout => "Logout",
            Operation::AssumeRole => "AssumeRole",
            Operation::GetCallerIdentity => "GetCallerIdentity",
            Operation::DescribeCluster => "DescribeCluster",
            Operation::GetSigninToken => "GetSigninToken",
            Operation::ConsoleLogin => "ConsoleLogin",
            Operation::ListClusters => "ListClusters",
        }
    }

    /// Which wire protocol answers this operation; faults are shaped accordingly.
    pub(crate) fn protocol(self) -> Protocol {
        match self {
            Operation::RegisterClient
            | Operation::StartDeviceAuthorization
            | Operation::CreateToken => Protocol::Oidc,
            Operation::Authorize | Operation::DeviceVerification | Operation::ConsoleLogin => {
                Protocol::Browser
            }
            Operation::GetRoleCredentials
            | Operation::ListAccounts
            | Operation::ListAccountRoles
            | Operation::Logout => Protocol::Portal,
            Operation::AssumeRole | Operation::GetCallerIdentity => Protocol::Sts,
            Operation::DescribeCluster | Operation::ListClusters => Protocol::Eks,
            Operation::GetSigninToken => Protocol::Signin,
        }
    }

    /// The operation a request is for, or `None` for paths that are not AWS calls.
    /// `form_body` is only read for STS, whose action travels in the body.
    pub(crate) fn of_request(
        method: &str,
        path: &str,
        query: Option<&str>,
        form_body: &[u8],
    ) -> Option<Operation> {
        let operation = match (method, path) {
            ("POST", "/client/register") => Operation::RegisterClient,
            ("POST", "/device_authorization") => Operation::StartDeviceAuthorization,
            ("POST", "/token") => Operation::CreateToken,
            ("GET", "/authorize") => Operation::Authorize,
            ("GET", "/device") => Operation::DeviceVerification,
            ("GET", "/federation/credentials") => Operation::GetRoleCredentials,
            ("GET", "/assignment/accounts") => Operation::ListAccounts,
            ("GET", "/assignment/roles") => Operation::ListAccountRoles,
            ("POST", "/logout") => Operation::Logout,
            ("POST", "/") => sts_action(form_body)?,
            ("GET", "/") => sts_action(query.unwrap_or_default().as_bytes())?,
            ("GET", "/clusters") => Operation::ListClusters,
            ("GET", path) if is_cluster_path(path) => Operation::DescribeCluster,
            ("GET", "/federation") => federation_action(query.unwrap_or_default())?,
            _ => return None,
        };
        Some(operation)
    }
}

/// `/clusters/{name}`: exactly the paths the router sends to `DescribeCluster`.
fn is_cluster_path(path: &str) -> bool {
    path.strip_prefix("/clusters/")
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

fn sts_action(form: &[u8]) -> Option<Operation> {
    let (_, action) = form_urlencoded::parse(form).find(|(name, _)| name == "Action")?;
    match action.as_ref() {
        "AssumeRole" => Some(Operation::AssumeRole),
        "GetCallerIdentity" => Some(Operation::GetCallerIdentity),
        _ => None,
    }
}

fn federation_action(query: &str) -> Option<Operation> {
    let (_, action) =
        form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "Action")?;
    match action.as_ref() {
        "getSigninToken" => Some(Operation::GetSigninToken),
        "login" => Some(Operation::ConsoleLogin),
        _ => None,
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Oidc,
    Browser,
    Portal,
    Sts,
    Eks,
    Signin,
}

/// A failure injected into the next calls of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500: `InternalServerException` (OIDC, portal), `InternalFailure` (STS) or
    /// `ServerException` (EKS).
    ServerError,
    /// The service's throttling error: HTTP 429 `TooManyRequestsException` (OIDC, portal,
    /// EKS) or HTTP 400 `Throttling` (STS).
    Throttle,
    /// The call succeeds, this much later.
    Latency(Duration),
    /// The connection closes (with an RST) before any byte of an answer, as when a proxy or
    /// the network drops it.
    ConnectionReset,
    /// HTTP 200 with a body cut short: JSON that does not parse (XML for STS), as when an
    /// answer is mangled on the way.
    MalformedJson,
}

/// One call the fake answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Which API call it was.
    pub operation: Operation,
    /// The HTTP method.
    pub method: String,
    /// The request path, without the query (which may carry secrets).
    pub path: String,
    /// The HTTP status of the answer; 0 when the connection was reset instead.
    pub status: u16,
    /// The AWS error code of the answer, when it was an error.
    pub error_code: Option<String>,
    /// The `x-k8s-aws-id` header (the EKS cluster a bearer token is for), when present.
    pub k8s_aws_id: Option<String>,
    /// When the request arrived.
    pub timestamp: Timestamp,
}

/// A sign-in made by [`FakeAws::issue_session`](crate::FakeAws::issue_session): a client
/// registration and the tokens issued to it, valid for the fake like any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedSession {
    /// The start URL the session is for.
    pub start_url: String,
    /// The IAM Identity Center region.
    pub region: String,
    /// The scopes the client registered.
    pub scopes: Vec<String>,
    /// The registered client's id.
    pub client_id: String,
    /// The registered client's secret.
    pub client_secret: String,
    /// When the client secret expires.
    pub registration_expires_at: Timestamp,
    /// The access token (the portal's bearer token).
    pub access_token: String,
    /// When the access token expires.
    pub expires_at: Timestamp,
    /// The refresh token; only issued when the scopes include `sso:account:access`.
    pub refresh_token: Option<String>,
}

/// Temporary AWS credentials the fake issued, with the identity they stand for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCredentials {
    /// The access key id (`ASIA...`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token that goes with the key (temporary credentials).
    pub session_token: String,
    /// When the credentials expire.
    pub expiration: Timestamp,
    /// The account the role is in.
    pub account_id: String,
    /// The IAM role's ARN (for SSO roles, with its `aws-reserved/sso.amazonaws.com/` path).
    pub role_arn: String,
    /// The role session's ARN, as `GetCallerIdentity` reports it.
    pub arn: String,
    /// The role session's user id (`AROA...:<session name>`).
    pub user_id: String,
    /// `GetRoleCredentials` or `AssumeRole`.
    pub issued_by: Operation,
}

/// A signin token the federation endpoint issued for a set of credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedSigninToken {
    /// The token a console login URL carries.
    pub signin_token: String,
    /// The access key id of the credentials it was issued for.
    pub access_key_id: String,
    /// When it stops signing anyone in (15 minutes after it was issued).
    pub expires_at: Timestamp,
}

/// A browser signed in to the console with a signin token (`Action=login`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleLogin {
    /// The access key id of the credentials behind the token.
    pub access_key_id: String,
    /// Where the console was asked to land, decoded.
    pub destination: String,
    /// Who sent the browser, decoded.
    pub issuer: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_map_to_operations() {
        assert_eq!(
            Operation::of_request("POST", "/token", None, b""),
            Some(Operation::CreateToken)
        );
        assert_eq!(
            Operation::of_request("POST", "/", None, b"Action=AssumeRole&Version=2011-06-15"),
            Some(Operation::AssumeRole)
        );
        assert_eq!(
            Operation::of_request("GET", "/", Some("Action=GetCallerIdentity"), b""),
            Some(Operation::GetCallerIdentity)
        );
        assert_eq!(
            Operation::of_request("GET", "/_fake/state", None, b""),
            None
        );
        assert_eq!(
            Operation::of_request("POST", "/", None, b"Action=Nope"),
            None
        );
        assert_eq!(
            Operation::of_request("GET", "/clusters/prod-1", None, b""),
            Some(Operation::DescribeCluster)
        );
        assert_eq!(
            Operation::of_request("GET", "/clusters", Some("maxResults=2"), b""),
            Some(Operation::ListClusters)
        );
        assert_eq!(Operation::of_request("GET", "/clusters/", None, b""), None);
        assert_eq!(
            Operation::of_request("GET", "/federation", Some("Action=getSigninToken"), b""),
            Some(Operation::GetSigninToken)
        );
        assert_eq!(
            Operation::of_request("GET", "/federation", Some("Action=login&x=1"), b""),
            Some(Operation::ConsoleLogin)
        );
        assert_eq!(
            Operation::of_request("GET", "/federation/credentials", None, b""),
            Some(Operation::GetRoleCredentials)
        );
        assert_eq!(
            Operation::of_request("GET", "/clusters/a/node-groups", None, b""),
            None
        );
        assert_eq!(
            Operation::of_request("POST", "/clusters/prod-1", None, b""),
            None
        );
    }

    #[test]
    fn operations_display_and_serialize_as_aws_names() {
        for operation in Operation::ALL {
            assert_eq!(
                serde_json::to_value(operation).unwrap(),
                serde_json::json!(operation.to_string())
            );
        }
        assert_eq!(
            Operation::GetRoleCredentials.to_string(),
            "GetRoleCredentials"
        );
    }
}
