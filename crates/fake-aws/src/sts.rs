//! STS (awsQuery: form-encoded requests, XML answers), signed with credentials the fake issued.

use std::collections::HashMap;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::model::{IssuedCredentials, Operation};
use crate::server::{MAX_BODY_BYTES, with_error_code};
use crate::sigv4::{self, Received, Rejection, Signature};
use crate::state::{App, RoleSession, request_id, role_id};

const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// Role chaining (assuming a role from a role session, which every credential this fake issues
/// is) limits the new session to one hour.
const ROLE_CHAINING_MAX_SECONDS: i64 = 3600;
const MIN_DURATION_SECONDS: i64 = 900;

/// An STS error, as an awsQuery `ErrorResponse`.
#[derive(Debug)]
pub(crate) struct StsError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl StsError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid_token() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    }

    fn signature_mismatch(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", message)
    }

    fn incomplete(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "IncompleteSignature", message)
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "An internal error occurred (injected fault).",
        )
    }

    pub fn throttled() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Throttling",
            "Rate exceeded (injected fault)",
        )
    }
}

impl IntoResponse for StsError {
    fn into_response(self) -> Response {
        let fault_type = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    <Type>{fault_type}</Type>\n    \
             <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  \
             <RequestId>{}</RequestId>\n</ErrorResponse>\n",
            self.code,
            xml_escape(&self.message),
            request_id()
        );
        with_error_code(
            (self.status, [(header::CONTENT_TYPE, "text/xml")], body).into_response(),
            self.code,
        )
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn xml_answer(action: &str, result: &str) -> Response {
    let body = format!(
        "<{action}Response xmlns=\"{NAMESPACE}\">\n  <{action}Result>\n{result}  </{action}Result>\n  \
         <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n",
        request_id()
    );
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// `POST /`: the awsQuery API, signed in the `Authorization` header.
pub(crate) async fn query_api(State(app): State<App>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return StsError::validation("Request body too large").into_response();
    };
    let params = form(&body);
    let query = parts.uri.query().unwrap_or_default();
    let caller = header_signature(&parts.headers, query).and_then(|signature| {
        authenticate(
            &app,
            &signature,
            Received {
                method: "POST",
                path: parts.uri.path(),
                headers: &parts.headers,
                body: &body,
            },
        )
    });
    answer(&app, caller, &params)
}

/// `GET /`: a presigned URL (what an EKS bearer token carries), or a header-signed GET.
pub(crate) async fn presigned(State(app): State<App>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let query = parts.uri.query().unwrap_or_default();
    let params = form(query.as_bytes());
    let signature = if params.contains_key("X-Amz-Signature") {
        Signature::from_query(query).map_err(StsError::incomplete)
    } else {
        header_signature(&parts.headers, query)
    };
    let caller = signature.and_then(|signature| {
        authenticate(
            &app,
            &signature,
            Received {
                method: "GET",
                path: parts.uri.path(),
                headers: &parts.headers,
                body: b"",
            },
        )
    });
    answer(&app, caller, &params)
}

/// The signature of the `Authorization` header, which must be there.
fn header_signature(headers: &HeaderMap, query: &str) -> Result<Signature, StsError> {
    Signature::from_headers(headers, query)
        .map_err(StsError::incomplete)?
        .ok_or_else(|| {
            StsError::new(
                StatusCode::FORBIDDEN,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            )
        })
}

fn form(bytes: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn answer(
    app: &App,
    caller: Result<IssuedCredentials, StsError>,
    params: &HashMap<String, String>,
) -> Response {
    let action = params.get("Action").map(String::as_str).unwrap_or_default();
    let result = caller.and_then(|caller| match action {
        "GetCallerIdentity" => Ok(get_caller_identity(&caller)),
        "AssumeRole" => assume_role(app, params),
        _ => Err(StsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!("Could not find operation {action} for version 2011-06-15"),
        )),
    });
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Finds the credentials that signed the request and checks the signature with their secret.
fn authenticate(
    app: &App,
    signature: &Signature,
    request: Received<'_>,
) -> Result<IssuedCredentials, StsError> {
    sigv4::verify(app, signature, "sts", request).map_err(|rejection| match rejection {
        Rejection::WrongService => {
            StsError::signature_mismatch("Credential should be scoped to correct service: 'sts'.")
        }
        Rejection::UnknownKey => StsError::invalid_token(),
        Rejection::Malformed(problem) => StsError::incomplete(problem),
        Rejection::Mismatch => StsError::signature_mismatch(sigv4::SIGNATURE_MISMATCH),
        Rejection::OutOfTime(message) => StsError::signature_mismatch(message),
        Rejection::ExpiredToken => StsError::new(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "The security token included in the request is expired",
        ),
    })
}

fn get_caller_identity(caller: &IssuedCredentials) -> Response {
    xml_answer(
        "GetCallerIdentity",
        &format!(
            "    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n",
            xml_escape(&caller.arn),
            xml_escape(&caller.user_id),
            caller.account_id
        ),
    )
}

fn missing(name: &str) -> StsError {
    StsError::validation(format!(
        "1 validation error detected: Value null at '{name}' failed to satisfy constraint: \
         Member must not be null"
    ))
}

/// `arn:aws:iam::ACCOUNT:role/[PATH/]NAME` → (account, name).
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account_id, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    let valid_account = account_id.len() == 12 && account_id.bytes().all(|b| b.is_ascii_digit());
    (valid_account && !name.is_empty()).then_some((account_id, name))
}

fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// Any credentials the fake issued may assume any well-formed role: the fake checks
/// authentication, not IAM policy.
fn assume_role(app: &App, params: &HashMap<String, String>) -> Result<Response, StsError> {
    let role_arn = params.get("RoleArn").ok_or_else(|| missing("roleArn"))?;
    let session_name = params
        .get("RoleSessionName")
        .ok_or_else(|| missing("roleSessionName"))?;
    let (account_id, role_name) = parse_role_arn(role_arn).ok_or_else(|| {
        StsError::validation(format!("{role_arn} is invalid: it is not a role ARN"))
    })?;
    if !valid_session_name(session_name) {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to \
             satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]{{2,64}}"
        )));
    }
    let duration = match params.get("DurationSeconds") {
        None => 3600,
        Some(seconds) => seconds.parse::<i64>().map_err(|_| {
            StsError::validation(format!("DurationSeconds {seconds} is not a number"))
        })?,
    };
    if duration < MIN_DURATION_SECONDS {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to \
             satisfy constraint: Member must have value greater than or equal to 900"
        )));
    }
    if duration > ROLE_CHAINING_MAX_SECONDS {
        return Err(StsError::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by \
             role chaining.",
        ));
    }
    let user_id = format!("{}:{session_name}", role_id(account_id, role_name));
    let credentials = app.world().issue_credentials(RoleSession {
        account_id: account_id.to_owned(),
        role_arn: role_arn.clone(),
        arn: format!("arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}"),
        user_id,
        issued_by: Operation::AssumeRole,
        lifetime_seconds: duration,
    });
    Ok(xml_answer(
        "AssumeRole",
        &format!(
            "    <AssumedRoleUser>\n      <AssumedRoleId>{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    \
             </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      \
             <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      \
             <Expiration>{}</Expiration>\n    </Credentials>\n",
            xml_escape(&credentials.user_id),
            xml_escape(&credentials.arn),
            credentials.access_key_id,
            xml_escape(&credentials.secret_access_key),
            xml_escape(&credentials.session_token),
            credentials.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_parsed_with_or_without_a_path() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/Deploy"),
            Some(("111122223333", "Deploy"))
        );
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/team/ci/Deploy"),
            Some(("111122223333", "Deploy"))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::1111:role/Deploy"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::111122223333:user/bob"), None);
    }

    #[test]
    fn session_names_follow_the_sts_pattern() {
        assert!(valid_session_name("dev@example.com"));
        assert!(!valid_session_name("x"));
        assert!(!valid_session_name("has space"));
    }
}
