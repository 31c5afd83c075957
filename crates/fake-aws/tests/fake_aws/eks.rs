//! EKS DescribeCluster through aws-sdk-eks, signed with role credentials from the portal.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sdk_eks::config::retry::RetryConfig;
use aws_sdk_eks::error::ProvideErrorMetadata;
use aws_sdk_eks::operation::RequestId;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterError;
use aws_sdk_eks::types::{AuthenticationMode, ClusterStatus, IpFamily};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use ssobar_fake_aws::{FakeAws, FakeCluster, FakeConfig, Fault, IssuedCredentials, Operation};

use crate::http;
use crate::sdk::{self, DEV_ACCOUNT, PROD_ACCOUNT};

const CLUSTER: &str = "dev-cluster";
const API_SERVER: &str = "https://127.0.0.1:6443";

/// A CA certificate as EKS hands it out: the PEM, base64-encoded once more.
fn ca_data() -> String {
    STANDARD.encode(
        "-----BEGIN CERTIFICATE-----\nMIIDBTCCAe2gAwIBAgIIFakeEksCaMA0GCSqGSIb3DQEBCwUAMBUxEzARBgNV\n\
         -----END CERTIFICATE-----\n",
    )
}

fn with_cluster() -> FakeAws {
    FakeAws::start(FakeConfig {
        clusters: vec![FakeCluster::new(CLUSTER, API_SERVER, &ca_data())],
        ..FakeConfig::default()
    })
    .expect("the fake starts")
}

fn statuses(fake: &FakeAws) -> Vec<(u16, Option<String>)> {
    fake.requests()
        .into_iter()
        .filter(|record| record.operation == Operation::DescribeCluster)
        .map(|record| (record.status, record.error_code))
        .collect()
}

#[tokio::test]
async fn describe_cluster_answers_the_endpoint_and_ca_with_the_callers_account() {
    let fake = with_cluster();
    let dev = sdk::role_credentials(&fake, DEV_ACCOUNT, "AdministratorAccess").await;
    let answer = sdk::eks(&fake, "us-east-1", &dev)
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .unwrap();
    let cluster = answer.cluster().expect("a cluster");
    assert_eq!(cluster.name(), Some(CLUSTER));
    assert_eq!(
        cluster.arn(),
        Some("arn:aws:eks:us-east-1:111122223333:cluster/dev-cluster")
    );
    assert_eq!(cluster.endpoint(), Some(API_SERVER));
    let ca = cluster
        .certificate_authority()
        .and_then(|authority| authority.data())
        .expect("CA data");
    assert_eq!(ca, ca_data());
    let pem = String::from_utf8(STANDARD.decode(ca).unwrap()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
    assert_eq!(cluster.status(), Some(&ClusterStatus::Active));
    assert_eq!(cluster.version(), Some("1.31"));
    assert_eq!(cluster.platform_version(), Some("eks.1"));
    assert_eq!(
        cluster.role_arn(),
        Some("arn:aws:iam::111122223333:role/eks-cluster")
    );
    let network = cluster.kubernetes_network_config().unwrap();
    assert_eq!(network.service_ipv4_cidr(), Some("10.100.0.0/16"));
    assert_eq!(network.ip_family(), Some(&IpFamily::Ipv4));
    assert_eq!(
        cluster
            .access_config()
            .and_then(|access| access.authentication_mode()),
        Some(&AuthenticationMode::ApiAndConfigMap)
    );
    let vpc = cluster.resources_vpc_config().unwrap();
    assert!(vpc.vpc_id().unwrap().starts_with("vpc-"));
    assert!(vpc.endpoint_public_access());
    assert!(cluster.tags().unwrap().is_empty());
    let created = cluster.created_at().expect("createdAt").secs();
    let now = jiff::Timestamp::now().as_second();
    assert!((now - 60..=now).contains(&created), "{created} vs {now}");
    let issuer = cluster
        .identity()
        .and_then(|identity| identity.oidc())
        .and_then(|oidc| oidc.issuer())
        .unwrap();
    assert!(
        issuer.starts_with("https://oidc.eks.us-east-1.amazonaws.com/id/"),
        "{issuer}"
    );

    // Any account's credentials see the cluster, in their own account.
    let prod = sdk::role_credentials(&fake, PROD_ACCOUNT, "ReadOnlyAccess").await;
    let answer = sdk::eks(&fake, "us-east-1", &prod)
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.cluster().and_then(|cluster| cluster.arn()),
        Some("arn:aws:eks:us-east-1:444455556666:cluster/dev-cluster")
    );

    assert_eq!(fake.calls(Operation::DescribeCluster), 2);
    let record = fake.requests().pop().unwrap();
    assert_eq!(record.operation, Operation::DescribeCluster);
    assert_eq!(record.method, "GET");
    assert_eq!(record.path, "/clusters/dev-cluster");
    assert_eq!(record.status, 200);
    assert_eq!(record.error_code, None);
}

#[tokio::test]
async fn clusters_added_at_runtime_live_in_their_region() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let describe = |region: &'static str| {
        sdk::eks(&fake, region, &credentials)
            .describe_cluster()
            .name("analytics")
            .send()
    };
    assert!(
        describe("eu-west-1")
            .await
            .unwrap_err()
            .into_service_error()
            .is_resource_not_found_exception()
    );

    fake.add_cluster(
        FakeCluster::new("analytics", "https://127.0.0.1:7443", &ca_data()).in_region("eu-west-1"),
    );
    let answer = describe("eu-west-1").await.unwrap();
    let cluster = answer.cluster().unwrap();
    assert_eq!(
        cluster.arn(),
        Some("arn:aws:eks:eu-west-1:111122223333:cluster/analytics")
    );
    assert_eq!(cluster.endpoint(), Some("https://127.0.0.1:7443"));
    // Another region's endpoint does not know it.
    assert!(
        describe("us-east-1")
            .await
            .unwrap_err()
            .into_service_error()
            .is_resource_not_found_exception()
    );

    // Adding it again replaces it.
    fake.add_cluster(
        FakeCluster::new("analytics", "https://127.0.0.1:8443", &ca_data()).in_region("eu-west-1"),
    );
    let answer = describe("eu-west-1").await.unwrap();
    assert_eq!(
        answer.cluster().and_then(|cluster| cluster.endpoint()),
        Some("https://127.0.0.1:8443")
    );
    assert_eq!(fake.config().clusters.len(), 1);
    assert_eq!(
        statuses(&fake)
            .into_iter()
            .map(|(status, _)| status)
            .collect::<Vec<_>>(),
        vec![404, 200, 404, 200]
    );
}

#[tokio::test]
async fn an_unknown_cluster_is_resource_not_found() {
    let fake = with_cluster();
    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let error = sdk::eks(&fake, "us-east-1", &credentials)
        .describe_cluster()
        .name("no-such-cluster")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sdk::http_status(&error), Some(404));
    assert_eq!(error.code(), Some("ResourceNotFoundException"));
    assert_eq!(error.request_id().map(str::len), Some(36));
    match error.into_service_error() {
        DescribeClusterError::ResourceNotFoundException(missing) => {
            assert_eq!(missing.cluster_name(), Some("no-such-cluster"));
            assert_eq!(
                missing.message(),
                Some("No cluster found for name: no-such-cluster.")
            );
        }
        other => panic!("expected ResourceNotFoundException, got {other:?}"),
    }
    assert_eq!(
        statuses(&fake),
        vec![(404, Some("ResourceNotFoundException".to_owned()))]
    );
}

#[tokio::test]
async fn signatures_keys_tokens_and_expiry_are_checked() {
    let fake = with_cluster();
    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let describe = |key: &str, secret: &str, token: &str| {
        sdk::eks_with(
            &fake,
            "us-east-1",
            key,
            secret,
            token,
            RetryConfig::disabled(),
        )
        .describe_cluster()
        .name(CLUSTER)
        .send()
    };

    let wrong_secret = describe(
        &credentials.access_key_id,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        &credentials.session_token,
    )
    .await
    .unwrap_err();
    assert_eq!(wrong_secret.code(), Some("InvalidSignatureException"));
    assert!(
        wrong_secret
            .message()
            .unwrap()
            .starts_with("The request signature we calculated does not match")
    );
    assert_eq!(sdk::http_status(&wrong_secret), Some(403));

    let unknown_key = describe(
        "ASIAUNKNOWNKEY000000",
        &credentials.secret_access_key,
        &credentials.session_token,
    )
    .await
    .unwrap_err();
    assert_eq!(unknown_key.code(), Some("UnrecognizedClientException"));
    assert_eq!(
        unknown_key.message(),
        Some("The security token included in the request is invalid.")
    );
    assert_eq!(sdk::http_status(&unknown_key), Some(403));

    let wrong_token = describe(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        "another-token",
    )
    .await
    .unwrap_err();
    assert_eq!(wrong_token.code(), Some("UnrecognizedClientException"));

    describe(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        &credentials.session_token,
    )
    .await
    .expect("the right secret and token");

    fake.update_config(|config| config.role_credentials_lifetime_seconds = -5);
    let expired = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let error = sdk::eks(&fake, "us-east-1", &expired)
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ExpiredTokenException"));
    assert_eq!(
        error.message(),
        Some("The security token included in the request is expired")
    );
    assert_eq!(sdk::http_status(&error), Some(403));

    assert_eq!(fake.calls(Operation::DescribeCluster), 5);
    assert_eq!(
        statuses(&fake),
        vec![
            (403, Some("InvalidSignatureException".to_owned())),
            (403, Some("UnrecognizedClientException".to_owned())),
            (403, Some("UnrecognizedClientException".to_owned())),
            (200, None),
            (403, Some("ExpiredTokenException".to_owned())),
        ]
    );
}

/// Signs `GET /clusters/{name}` for `service` by hand, as a client with the wrong scope would.
fn signed_headers(
    fake: &FakeAws,
    credentials: &IssuedCredentials,
    service: &str,
) -> Vec<(String, String)> {
    let identity = Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        Some(credentials.session_token.clone()),
        None,
        "test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("complete signing parameters")
        .into();
    let authority = fake.url().strip_prefix("http://").expect("an http URL");
    let url = format!("{}/clusters/{CLUSTER}", fake.url());
    let signable = SignableRequest::new(
        "GET",
        url.clone(),
        [("host", authority)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .expect("a signable request");
    let (instructions, _) = sign(signable, &params).expect("a signature").into_parts();
    let mut request = axum::http::Request::get(url).body(()).expect("a request");
    instructions.apply_to_request_http1x(&mut request);
    request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().expect("text headers").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn unsigned_and_wrongly_scoped_requests_are_refused() {
    let fake = with_cluster();
    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let path = format!("/clusters/{CLUSTER}");
    let get = |headers: &[(String, String)]| {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        http::request(fake.url(), "GET", &path, &headers, b"")
    };

    let unsigned = get(&[]);
    assert_eq!(unsigned.status, 403);
    assert_eq!(
        unsigned.header("x-amzn-ErrorType"),
        Some("MissingAuthenticationTokenException")
    );
    assert_eq!(
        unsigned.json(),
        json!({"message": "Missing Authentication Token"})
    );

    let scoped_to_sts = get(&signed_headers(&fake, &credentials, "sts"));
    assert_eq!(scoped_to_sts.status, 403);
    assert_eq!(
        scoped_to_sts.header("x-amzn-ErrorType"),
        Some("InvalidSignatureException")
    );
    assert_eq!(
        scoped_to_sts.json(),
        json!({"message": "Credential should be scoped to correct service: 'eks'."})
    );

    let signed = get(&signed_headers(&fake, &credentials, "eks"));
    assert_eq!(signed.status, 200, "{}", signed.body);
    assert_eq!(signed.header("content-type"), Some("application/json"));
    assert!(signed.header("x-amzn-RequestId").is_some());
    let cluster = &signed.json()["cluster"];
    assert_eq!(cluster["endpoint"], API_SERVER);
    assert_eq!(cluster["certificateAuthority"]["data"], ca_data());
    assert!(cluster["createdAt"].is_f64(), "{}", cluster["createdAt"]);
}

#[tokio::test]
async fn faults_are_eks_errors_and_the_sdk_retries_them() {
    let fake = with_cluster();
    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let eks = |retry| {
        sdk::eks_with(
            &fake,
            "us-east-1",
            &credentials.access_key_id,
            &credentials.secret_access_key,
            &credentials.session_token,
            retry,
        )
    };

    fake.inject_fault(Operation::DescribeCluster, Fault::ServerError, 1);
    fake.inject_fault(Operation::DescribeCluster, Fault::Throttle, 1);
    let answer = eks(sdk::quick_retries())
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.cluster().and_then(|cluster| cluster.endpoint()),
        Some(API_SERVER)
    );
    assert_eq!(
        statuses(&fake),
        vec![
            (500, Some("ServerException".to_owned())),
            (429, Some("TooManyRequestsException".to_owned())),
            (200, None),
        ]
    );

    fake.inject_fault(Operation::DescribeCluster, Fault::ServerError, 1);
    let error = eks(RetryConfig::disabled())
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sdk::http_status(&error), Some(500));
    assert!(error.into_service_error().is_server_exception());

    fake.inject_fault(Operation::DescribeCluster, Fault::Throttle, 1);
    let error = eks(RetryConfig::disabled())
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("TooManyRequestsException"));
    assert_eq!(sdk::http_status(&error), Some(429));
    assert_eq!(fake.calls(Operation::DescribeCluster), 5);
}

#[tokio::test]
async fn scripts_add_clusters_through_the_admin_api() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let url = fake.url();
    let added = http::post_json(
        url,
        "/_fake/clusters",
        &json!({"name": "scripted", "endpoint": "https://127.0.0.1:9443",
                "certificate_authority_data": ca_data()}),
    );
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.json()["region"], "us-east-1");
    assert_eq!(
        fake.config().clusters,
        vec![FakeCluster::new(
            "scripted",
            "https://127.0.0.1:9443",
            &ca_data()
        )]
    );
    let bad_name = http::post_json(
        url,
        "/_fake/clusters",
        &json!({"name": "-nope", "endpoint": "https://x", "certificate_authority_data": ""}),
    );
    assert_eq!(bad_name.status, 400);
    let missing_endpoint = http::post_json(url, "/_fake/clusters", &json!({"name": "x"}));
    assert_eq!(missing_endpoint.status, 400);

    let credentials = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let answer = sdk::eks(&fake, "us-east-1", &credentials)
        .describe_cluster()
        .name("scripted")
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.cluster().and_then(|cluster| cluster.endpoint()),
        Some("https://127.0.0.1:9443")
    );
    let state = http::get(url, "/_fake/state").json();
    assert_eq!(state["counters"]["DescribeCluster"], 1);
    assert_eq!(state["config"]["clusters"][0]["name"], "scripted");
    assert!(
        fake.endpoint_env()
            .contains(&("AWS_ENDPOINT_URL_EKS".to_owned(), url.to_owned()))
    );
}

/// Every cluster name ListClusters gives, following `nextToken` page by page.
async fn all_cluster_names(client: &aws_sdk_eks::Client) -> Vec<String> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_clusters()
            .max_results(100)
            .set_next_token(token.take())
            .send()
            .await
            .expect("ListClusters answers");
        names.extend(page.clusters().iter().cloned());
        match page.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => return names,
        }
    }
}

#[tokio::test]
async fn list_clusters_pages_through_the_callers_account_and_region_only() {
    let fake = FakeAws::start(FakeConfig {
        eks_page_size: 2,
        clusters: vec![
            FakeCluster::new("shared", API_SERVER, &ca_data()),
            FakeCluster::new("dev-a", API_SERVER, &ca_data()).in_account(DEV_ACCOUNT),
            FakeCluster::new("dev-b", API_SERVER, &ca_data()).in_account(DEV_ACCOUNT),
            FakeCluster::new("dev-eu", API_SERVER, &ca_data())
                .in_account(DEV_ACCOUNT)
                .in_region("eu-west-1"),
            FakeCluster::new("prod-a", API_SERVER, &ca_data()).in_account(PROD_ACCOUNT),
        ],
        ..FakeConfig::default()
    })
    .unwrap();
    let dev = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let names = all_cluster_names(&sdk::eks(&fake, "us-east-1", &dev)).await;
    assert_eq!(names, ["shared", "dev-a", "dev-b"]);
    assert_eq!(fake.calls(Operation::ListClusters), 2, "pages of two");
    let names = all_cluster_names(&sdk::eks(&fake, "eu-west-1", &dev)).await;
    assert_eq!(names, ["dev-eu"]);

    let prod = sdk::role_credentials(&fake, PROD_ACCOUNT, "ReadOnlyAccess").await;
    let names = all_cluster_names(&sdk::eks(&fake, "us-east-1", &prod)).await;
    assert_eq!(names, ["shared", "prod-a"]);
    // Another account's cluster is not there for DescribeCluster either.
    let err = sdk::eks(&fake, "us-east-1", &prod)
        .describe_cluster()
        .name("dev-a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn a_role_denied_eks_is_refused_list_and_describe() {
    let fake = FakeAws::start(FakeConfig {
        clusters: vec![FakeCluster::new(CLUSTER, API_SERVER, &ca_data())],
        eks_denied_roles: vec!["ReadOnlyAccess".to_owned()],
        ..FakeConfig::default()
    })
    .unwrap();
    let denied = sdk::role_credentials(&fake, DEV_ACCOUNT, "ReadOnlyAccess").await;
    let client = sdk::eks(&fake, "us-east-1", &denied);
    let err = client.list_clusters().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(
        err.message()
            .unwrap()
            .contains("is not authorized to perform: eks:ListClusters"),
        "{err:?}"
    );
    let err = client
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert!(statuses.ends_with(&[403, 403]), "{statuses:?}");

    let allowed = sdk::role_credentials(&fake, DEV_ACCOUNT, "AdministratorAccess").await;
    let names = all_cluster_names(&sdk::eks(&fake, "us-east-1", &allowed)).await;
    assert_eq!(names, [CLUSTER]);
}
