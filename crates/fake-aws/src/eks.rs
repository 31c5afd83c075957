//! EKS `DescribeCluster` and `ListClusters` (rest-json, SigV4-signed in headers with
//! credentials the fake issued): what `aws eks update-kubeconfig` and kubeconfig writers read a
//! cluster's endpoint and CA from, and how they find the clusters of an account and region.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::FakeCluster;
use crate::model::IssuedCredentials;
use crate::server::{json_error, query_pairs};
use crate::sigv4::{self, Received, Rejection, Signature};
use crate::state::{App, request_id, stable_hex};

/// The SigV4 service name EKS requests are scoped to.
const SERVICE: &str = "eks";
/// What a cluster made today would run; the fake describes every cluster alike.
const KUBERNETES_VERSION: &str = "1.31";
const PLATFORM_VERSION: &str = "eks.1";
/// The request id header of rest-json services; the SDK reads it into its errors and outputs.
const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";

/// An EKS error: `x-amzn-ErrorType` names the exception, the body carries a message (and, for
/// a missing cluster, its name).
#[derive(Debug)]
pub(crate) struct EksError {
    status: StatusCode,
    exception: &'static str,
    message: String,
    cluster_name: Option<String>,
}

impl EksError {
    fn new(status: StatusCode, exception: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            exception,
            message: message.into(),
            cluster_name: None,
        }
    }

    /// An authentication failure: EKS answers all of them with 403.
    fn forbidden(exception: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, exception, message)
    }

    fn cluster_not_found(name: &str) -> Self {
        Self {
            cluster_name: Some(name.to_owned()),
            ..Self::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                format!("No cluster found for name: {name}."),
            )
        }
    }

    /// A role whose policies do not allow the action, worded as IAM words it.
    fn access_denied(caller: &Caller, action: &str, resource: &str) -> Self {
        Self::forbidden(
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: eks:{action} on resource: {resource}",
                caller.credentials.arn
            ),
        )
    }

    fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterException",
            message,
        )
    }

    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServerException",
            "An internal error occurred (injected fault)",
        )
    }

    /// EKS throttles `DescribeCluster` with a 429 `TooManyRequestsException`, not the
    /// `ThrottlingException` of other JSON services.
    pub fn throttled() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Too Many Requests (injected fault)",
        )
    }
}

impl IntoResponse for EksError {
    fn into_response(self) -> Response {
        let mut body = json!({"message": self.message});
        if let (Some(fields), Some(name)) = (body.as_object_mut(), self.cluster_name) {
            fields.insert("clusterName".to_owned(), Value::String(name));
        }
        (
            [(REQUEST_ID_HEADER, request_id())],
            json_error(self.status, self.exception, body),
        )
            .into_response()
    }
}

/// Who signed a request, and for which region.
struct Caller {
    credentials: IssuedCredentials,
    /// The region of the signature's credential scope: the region the client called.
    region: String,
}

/// Checks the header signature, as every EKS call does, and answers who made it.
fn authenticate(app: &App, uri: &Uri, headers: &HeaderMap) -> Result<Caller, EksError> {
    let signature = Signature::from_headers(headers, uri.query().unwrap_or_default())
        .map_err(|problem| EksError::forbidden("IncompleteSignatureException", problem))?
        .ok_or_else(|| {
            EksError::forbidden(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            )
        })?;
    let request = Received {
        method: "GET",
        path: uri.path(),
        headers,
        body: b"",
    };
    let credentials =
        sigv4::verify(app, &signature, SERVICE, request).map_err(|rejection| match rejection {
            Rejection::WrongService => EksError::forbidden(
                "InvalidSignatureException",
                format!("Credential should be scoped to correct service: '{SERVICE}'."),
            ),
            Rejection::UnknownKey => EksError::forbidden(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            Rejection::Malformed(problem) => {
                EksError::forbidden("IncompleteSignatureException", problem)
            }
            Rejection::Mismatch => {
                EksError::forbidden("InvalidSignatureException", sigv4::SIGNATURE_MISMATCH)
            }
            Rejection::OutOfTime(message) => {
                EksError::forbidden("InvalidSignatureException", message)
            }
            Rejection::ExpiredToken => EksError::forbidden(
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ),
        })?;
    Ok(Caller {
        credentials,
        region: signature.credential.region,
    })
}

/// The role a set of issued credentials stands for: the permission set of an SSO role
/// (`AWSReservedSSO_<set>_<suffix>`), else the role's own name.
fn role_name(credentials: &IssuedCredentials) -> &str {
    let role = credentials
        .role_arn
        .rsplit('/')
        .next()
        .unwrap_or(&credentials.role_arn);
    role.strip_prefix("AWSReservedSSO_")
        .and_then(|rest| rest.rsplit_once('_'))
        .map_or(role, |(set, _suffix)| set)
}

/// Refuses a caller whose role [`FakeConfig::eks_denied_roles`](crate::FakeConfig) names.
fn authorize(app: &App, caller: &Caller, action: &str, resource: &str) -> Result<(), EksError> {
    let denied = app
        .world()
        .config
        .eks_denied_roles
        .iter()
        .any(|role| role == role_name(&caller.credentials));
    if denied {
        return Err(EksError::access_denied(caller, action, resource));
    }
    Ok(())
}

/// `GET /clusters/{name}`. The region comes from the signature's credential scope, as each
/// region's endpoint knows only its own clusters, and the account from the credentials.
pub(crate) async fn describe_cluster(
    State(app): State<App>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, EksError> {
    let caller = authenticate(&app, &uri, &headers)?;
    let account = &caller.credentials.account_id;
    let resource = format!("arn:aws:eks:{}:{account}:cluster/{name}", caller.region);
    authorize(&app, &caller, "DescribeCluster", &resource)?;
    let cluster = {
        let world = app.world();
        let seen = world.config.clusters_seen(account, &caller.region);
        // A cluster of the caller's own account before one every account sees.
        seen.iter()
            .filter(|cluster| cluster.name == name)
            .max_by_key(|cluster| cluster.account_id.is_some())
            .map(|cluster| (*cluster).clone())
    }
    .ok_or_else(|| EksError::cluster_not_found(&name))?;
    let body = cluster_json(
        &cluster,
        &caller.credentials.account_id,
        app.started_at.as_millisecond(),
    );
    Ok(([(REQUEST_ID_HEADER, request_id())], Json(body)).into_response())
}

/// `GET /clusters?maxResults=&nextToken=`: the names of the clusters the caller's account has
/// in the signature's region, a page at a time. The page holds at most `maxResults` (1 to 100,
/// default 100) and at most [`FakeConfig::eks_page_size`](crate::FakeConfig) names; the next
/// token is the offset, opaque to clients.
pub(crate) async fn list_clusters(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, EksError> {
    let caller = authenticate(&app, &uri, &headers)?;
    let account = &caller.credentials.account_id;
    let resource = format!("arn:aws:eks:{}:{account}:cluster/*", caller.region);
    authorize(&app, &caller, "ListClusters", &resource)?;
    let params = query_pairs(query.as_deref().unwrap_or_default());
    let max_results = match params.get("maxResults") {
        None => 100,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| EksError::invalid_parameter("maxResults must be between 1 and 100"))?,
    };
    let offset = match params.get("nextToken").filter(|token| !token.is_empty()) {
        None => 0,
        Some(token) => token
            .strip_prefix("clusters-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| EksError::invalid_parameter("The nextToken is not valid"))?,
    };
    let (names, next) = {
        let world = app.world();
        let page_size = max_results.min(world.config.eks_page_size.max(1));
        let mut listed = std::collections::HashSet::new();
        // A name listed once though a cluster of every account shares it.
        let names: Vec<String> = world
            .config
            .clusters_seen(account, &caller.region)
            .into_iter()
            .map(|cluster| cluster.name.clone())
            .filter(|name| listed.insert(name.clone()))
            .collect();
        let end = (offset + page_size).min(names.len());
        let page = names.get(offset..end).unwrap_or_default().to_vec();
        let next = (end < names.len()).then(|| format!("clusters-{end}"));
        (page, next)
    };
    let mut body = json!({"clusters": names});
    if let (Some(fields), Some(next)) = (body.as_object_mut(), next) {
        fields.insert("nextToken".to_owned(), Value::String(next));
    }
    Ok(([(REQUEST_ID_HEADER, request_id())], Json(body)).into_response())
}

/// The `DescribeCluster` answer: the configured endpoint and CA, the rest made up but shaped
/// like a real cluster's (ids stable per account, region and name).
fn cluster_json(cluster: &FakeCluster, account_id: &str, created_at_ms: i64) -> Value {
    let FakeCluster {
        name,
        endpoint,
        certificate_authority_data,
        region,
        account_id: _,
    } = cluster;
    let id = |kind: &str, len: usize| stable_hex(&[kind, account_id, region, name], len);
    json!({
        "cluster": {
            "name": name,
            "arn": format!("arn:aws:eks:{region}:{account_id}:cluster/{name}"),
            // EKS sends epoch seconds with a fraction; precision loss is irrelevant here.
            "createdAt": created_at_ms as f64 / 1000.0,
            "version": KUBERNETES_VERSION,
            "endpoint": endpoint,
            "roleArn": format!("arn:aws:iam::{account_id}:role/eks-cluster"),
            "resourcesVpcConfig": {
                "subnetIds": [format!("subnet-{}", id("subnet", 17))],
                "securityGroupIds": [],
                "clusterSecurityGroupId": format!("sg-{}", id("security-group", 17)),
                "vpcId": format!("vpc-{}", id("vpc", 17)),
                "endpointPublicAccess": true,
                "endpointPrivateAccess": false,
                "publicAccessCidrs": ["0.0.0.0/0"],
            },
            "kubernetesNetworkConfig": {
                "serviceIpv4Cidr": "10.100.0.0/16",
                "ipFamily": "ipv4",
            },
            "identity": {
                "oidc": {
                    "issuer": format!(
                        "https://oidc.eks.{region}.amazonaws.com/id/{}",
                        id("oidc", 32).to_ascii_uppercase()
                    ),
                },
            },
            "certificateAuthority": {"data": certificate_authority_data},
            "status": "ACTIVE",
            "platformVersion": PLATFORM_VERSION,
            "tags": {},
            "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ErrorCode;

    #[test]
    fn clusters_carry_the_callers_account_and_stable_ids() {
        let cluster =
            FakeCluster::new("prod", "https://127.0.0.1:6443", "Q0E=").in_region("eu-west-1");
        let answer = cluster_json(&cluster, "111122223333", 1_700_000_000_250);
        let described = &answer["cluster"];
        assert_eq!(
            described["arn"],
            "arn:aws:eks:eu-west-1:111122223333:cluster/prod"
        );
        assert_eq!(described["endpoint"], "https://127.0.0.1:6443");
        assert_eq!(described["certificateAuthority"]["data"], "Q0E=");
        assert_eq!(described["createdAt"], 1_700_000_000.25);
        assert_eq!(
            described["roleArn"],
            "arn:aws:iam::111122223333:role/eks-cluster"
        );
        let vpc = described["resourcesVpcConfig"]["vpcId"].as_str().unwrap();
        assert_eq!(vpc.len(), "vpc-".len() + 17);
        let again = cluster_json(&cluster, "111122223333", 0);
        assert_eq!(again["cluster"]["resourcesVpcConfig"]["vpcId"], vpc);
        let other_account = cluster_json(&cluster, "444455556666", 0);
        assert_ne!(other_account["cluster"]["resourcesVpcConfig"]["vpcId"], vpc);
    }

    #[test]
    fn a_missing_cluster_names_itself() {
        let response = EksError::cluster_not_found("nope").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers()["x-amzn-ErrorType"],
            "ResourceNotFoundException"
        );
        assert_eq!(
            response
                .extensions()
                .get::<ErrorCode>()
                .map(|code| code.0.as_str()),
            Some("ResourceNotFoundException")
        );
    }
}
