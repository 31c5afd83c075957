//! EKS DescribeCluster and ListClusters (aws-sdk-eks): the API server URL and CA of a
//! cluster, so that `ssobar kubeconfig` needs only the cluster's name, and the clusters of an
//! account and region, for `ssobar clusters`.

use crate::aws::credentials::AwsCredentials;
use crate::aws::endpoints::Service;
use crate::aws::{CallError, sdk_config};
use crate::env::Env;
use crate::util::text::printable;

/// What a kubeconfig needs of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The cluster's ARN.
    pub arn: String,
    /// The API server URL.
    pub endpoint: String,
    /// The CA, base64 of the PEM.
    pub certificate_authority_data: String,
}

/// A client for one region's EKS endpoint.
#[derive(Clone, Debug)]
pub struct EksClient {
    client: aws_sdk_eks::Client,
    endpoint: String,
}

impl EksClient {
    /// A client for `region` (at `AWS_ENDPOINT_URL_EKS` when set) signing with `credentials`.
    pub fn new(env: &Env, region: &str, credentials: &AwsCredentials) -> Result<Self, CallError> {
        let (builder, endpoint) = sdk_config!(aws_sdk_eks, env, Service::Eks, region);
        let config = builder
            .credentials_provider(credentials.sdk_credentials())
            .build();
        Ok(Self {
            client: aws_sdk_eks::Client::from_conf(config),
            endpoint,
        })
    }

    /// ListClusters: every cluster name of the credentials' account in this client's region,
    /// following `nextToken` to the last page. A role without `eks:ListClusters` fails with
    /// the service code `AccessDeniedException`.
    pub async fn list_clusters(&self) -> Result<Vec<String>, CallError> {
        let mut names = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_clusters()
                .max_results(100)
                .set_next_token(next_token.clone())
                .send()
                .await
                .map_err(|e| CallError::from_sdk(e, &self.endpoint))?;
            names.extend(page.clusters().iter().cloned());
            match page.next_token() {
                // The token it was just given back again would be asked for forever.
                Some(token) if !token.is_empty() && next_token.as_deref() != Some(token) => {
                    next_token = Some(token.to_owned());
                }
                _ => return Ok(names),
            }
        }
    }

    /// DescribeCluster. The name came from the person or from ListClusters: the errors show
    /// it [printable].
    pub async fn describe_cluster(&self, name: &str) -> Result<ClusterInfo, CallError> {
        let shown = printable(name);
        let out = self
            .client
            .describe_cluster()
            .name(name)
            .send()
            .await
            .map_err(|e| match CallError::from_sdk(e, &self.endpoint) {
                CallError::Service { code, .. } if code == "ResourceNotFoundException" => {
                    CallError::Other(format!(
                        "there is no EKS cluster {shown} in this account and region; check --cluster-id and --region"
                    ))
                }
                other => other,
            })?;
        let cluster = out.cluster().ok_or_else(|| {
            CallError::Other(format!("DescribeCluster {shown} returned no cluster"))
        })?;
        let endpoint = cluster.endpoint().unwrap_or_default().to_owned();
        let ca = cluster
            .certificate_authority()
            .and_then(|c| c.data())
            .unwrap_or_default()
            .to_owned();
        if endpoint.is_empty() || ca.is_empty() {
            return Err(CallError::Other(format!(
                "EKS cluster {shown} has no endpoint or CA yet (is it still being created?)"
            )));
        }
        Ok(ClusterInfo {
            arn: cluster.arn().unwrap_or_default().to_owned(),
            endpoint,
            certificate_authority_data: ca,
        })
    }
}
