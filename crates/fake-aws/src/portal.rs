//! The SSO portal (rest-json; the access token travels in `x-amz-sso_bearer_token`).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::model::Operation;
use crate::server::{json_error, query_pairs};
use crate::state::{App, RoleSession, World, role_id, stable_hex};

const BEARER_HEADER: &str = "x-amz-sso_bearer_token";
const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;

/// A portal error: `x-amzn-ErrorType` names the exception, the body carries a message.
#[derive(Debug)]
pub(crate) struct PortalError {
    status: StatusCode,
    exception: &'static str,
    message: String,
}

impl PortalError {
    fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            exception: "UnauthorizedException",
            message: "Session token not found or invalid".to_owned(),
        }
    }

    fn forbidden() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            exception: "ForbiddenException",
            message: "No access".to_owned(),
        }
    }

    fn invalid_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            exception: "InvalidRequestException",
            message: message.into(),
        }
    }

    pub fn server_error() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            exception: "InternalServerException",
            message: "An internal error occurred (injected fault)".to_owned(),
        }
    }

    pub fn throttled() -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            exception: "TooManyRequestsException",
            message: "Too many requests (injected fault)".to_owned(),
        }
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        json_error(
            self.status,
            self.exception,
            json!({"message": self.message}),
        )
    }
}

/// The session of the request's bearer token, or 401.
fn authenticate(world: &World, headers: &HeaderMap) -> Result<u64, PortalError> {
    headers
        .get(BEARER_HEADER)
        .and_then(|token| token.to_str().ok())
        .and_then(|token| world.valid_session(token))
        .ok_or_else(PortalError::unauthorized)
}

fn required_param(
    params: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<String, PortalError> {
    params
        .get(name)
        .filter(|value| !value.is_empty())
        .cloned()
        .ok_or_else(|| PortalError::invalid_request(format!("{name} is required")))
}

pub(crate) async fn get_role_credentials(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PortalError> {
    let params = query_pairs(query.as_deref().unwrap_or_default());
    let mut world = app.world();
    authenticate(&world, &headers)?;
    let role_name = required_param(&params, "role_name")?;
    let account_id = required_param(&params, "account_id")?;
    let assigned = world
        .config
        .account(&account_id)
        .is_some_and(|account| account.roles.contains(&role_name));
    if !assigned {
        return Err(PortalError::forbidden());
    }
    let session = sso_role_session(&world, &account_id, &role_name);
    let credentials = world.issue_credentials(session);
    Ok(Json(json!({
        "roleCredentials": {
            "accessKeyId": credentials.access_key_id,
            "secretAccessKey": credentials.secret_access_key,
            "sessionToken": credentials.session_token,
            "expiration": credentials.expiration.as_millisecond(),
        }
    }))
    .into_response())
}

/// The role session of a permission set: IAM Identity Center provisions each one as the role
/// `AWSReservedSSO_<set>_<suffix>` under the `aws-reserved/sso.amazonaws.com/` path (with the
/// region in the path unless the instance is in us-east-1), and the session is named after
/// the person.
fn sso_role_session(world: &World, account_id: &str, permission_set: &str) -> RoleSession {
    let config = &world.config;
    let role_name = format!(
        "AWSReservedSSO_{permission_set}_{}",
        stable_hex(&["sso-role", account_id, permission_set], 16)
    );
    let region_path = if config.identity_center_region == "us-east-1" {
        String::new()
    } else {
        format!("{}/", config.identity_center_region)
    };
    RoleSession {
        account_id: account_id.to_owned(),
        role_arn: format!(
            "arn:aws:iam::{account_id}:role/aws-reserved/sso.amazonaws.com/{region_path}{role_name}"
        ),
        arn: format!(
            "arn:aws:sts::{account_id}:assumed-role/{role_name}/{}",
            config.user_name
        ),
        user_id: format!("{}:{}", role_id(account_id, &role_name), config.user_name),
        issued_by: Operation::GetRoleCredentials,
        lifetime_seconds: config.role_credentials_lifetime_seconds,
    }
}

/// One page of `items`, and the token of the next page when there is one. Tokens are opaque
/// to clients; here they encode the offset.
fn paginate(
    items: Vec<Value>,
    params: &std::collections::HashMap<String, String>,
) -> Result<(Vec<Value>, Option<String>), PortalError> {
    let invalid_token = || PortalError::invalid_request("Invalid next token");
    let offset = match params.get("next_token").filter(|token| !token.is_empty()) {
        None => 0,
        Some(token) => {
            let decoded = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid_token())?;
            std::str::from_utf8(&decoded)
                .ok()
                .and_then(|text| text.strip_prefix("offset:"))
                .and_then(|offset| offset.parse::<usize>().ok())
                .filter(|offset| *offset <= items.len())
                .ok_or_else(invalid_token)?
        }
    };
    let page_size = match params.get("max_result").filter(|size| !size.is_empty()) {
        None => DEFAULT_PAGE_SIZE,
        Some(size) => size
            .parse::<usize>()
            .ok()
            .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
            .ok_or_else(|| {
                PortalError::invalid_request(format!(
                    "max_result must be between 1 and {MAX_PAGE_SIZE}"
                ))
            })?,
    };
    let end = offset.saturating_add(page_size).min(items.len());
    let next_token = (end < items.len()).then(|| URL_SAFE_NO_PAD.encode(format!("offset:{end}")));
    let page = items.into_iter().skip(offset).take(end - offset).collect();
    Ok((page, next_token))
}

fn page_response(list_name: &str, page: Vec<Value>, next_token: Option<String>) -> Response {
    let mut answer = serde_json::Map::new();
    answer.insert(list_name.to_owned(), Value::Array(page));
    if let Some(next_token) = next_token {
        answer.insert("nextToken".to_owned(), Value::String(next_token));
    }
    Json(Value::Object(answer)).into_response()
}

pub(crate) async fn list_accounts(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PortalError> {
    let params = query_pairs(query.as_deref().unwrap_or_default());
    let world = app.world();
    authenticate(&world, &headers)?;
    let accounts = world
        .config
        .accounts
        .iter()
        .map(|account| {
            json!({
                "accountId": account.account_id,
                "accountName": account.account_name,
                "emailAddress": account.email,
            })
        })
        .collect();
    let (page, next_token) = paginate(accounts, &params)?;
    Ok(page_response("accountList", page, next_token))
}

pub(crate) async fn list_account_roles(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PortalError> {
    let params = query_pairs(query.as_deref().unwrap_or_default());
    let world = app.world();
    authenticate(&world, &headers)?;
    let account_id = required_param(&params, "account_id")?;
    let account = world
        .config
        .account(&account_id)
        .ok_or_else(PortalError::forbidden)?;
    let roles = account
        .roles
        .iter()
        .map(|role| json!({"roleName": role, "accountId": account.account_id}))
        .collect();
    let (page, next_token) = paginate(roles, &params)?;
    Ok(page_response("roleList", page, next_token))
}

/// Ends the sign-in session: the token, and every token refreshed from the same sign-in,
/// stop working. Role credentials already issued stay valid, as in AWS.
pub(crate) async fn logout(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let mut world = app.world();
    let session = authenticate(&world, &headers)?;
    world.end_session(session);
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn pages_walk_the_whole_list() {
        let items: Vec<Value> = (0..5).map(|n| json!(n)).collect();
        let (first, token) = paginate(items.clone(), &params(&[("max_result", "2")])).unwrap();
        assert_eq!(first, vec![json!(0), json!(1)]);
        let token = token.unwrap();
        let (second, token) = paginate(
            items.clone(),
            &params(&[("max_result", "2"), ("next_token", &token)]),
        )
        .unwrap();
        assert_eq!(second, vec![json!(2), json!(3)]);
        let (last, token) = paginate(
            items.clone(),
            &params(&[("max_result", "2"), ("next_token", &token.unwrap())]),
        )
        .unwrap();
        assert_eq!(last, vec![json!(4)]);
        assert_eq!(token, None);
        assert!(paginate(items.clone(), &params(&[("next_token", "garbage!")])).is_err());
        assert!(paginate(items, &params(&[("max_result", "0")])).is_err());
    }
}
