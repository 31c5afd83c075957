//! The EKS bearer token kubectl's exec hook asks for, as `aws eks get-token` and
//! aws-iam-authenticator make it: a presigned STS GetCallerIdentity URL with the cluster id
//! signed in, base64url-encoded after `k8s-aws-v1.`. Tokens are reused from a private cache
//! while they have a minute left, so kubectl's several calls per command cost a file read.

use crate::creds::AwsCredentials;
use crate::util::fsutil;
use crate::util::text::printable;
use crate::util::time::{add_seconds, format_timestamp};
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What every EKS token starts with.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The ExecCredential version used when kubectl does not say (or says something unknown).
pub const DEFAULT_EXEC_API: &str = "client.authentication.k8s.io/v1beta1";
/// The header that binds a token to one cluster.
pub const CLUSTER_HEADER: &str = "x-k8s-aws-id";
/// The server accepts a token for 15 minutes from signing; report a minute less, as
/// `aws eks get-token` does, so kubectl asks again before the server says no.
const TOKEN_LIFETIME_SECS: i64 = 14 * 60;
/// Reuse a cached token only while it has at least this much of its reported validity left.
pub const MIN_LEFT_SECS: i64 = 60;

/// The ExecCredential `apiVersion` to answer with, and a warning for kubectl's stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecApi {
    /// The `apiVersion` to write into the ExecCredential.
    pub version: String,
    /// Something the person should know (a deprecated or unreadable request).
    pub warning: Option<String>,
    /// kubectl passed its terminal on (`spec.interactive`): a person can answer a sign-in.
    pub interactive: bool,
}

/// Reads `KUBERNETES_EXEC_INFO`: v1 and v1beta1 as given, v1alpha1 as given with a deprecation
/// warning, anything else v1beta1 (with a warning when the variable was there but unreadable).
pub fn exec_api(exec_info: Option<&str>) -> ExecApi {
    let Some(text) = exec_info.filter(|t| !t.trim().is_empty()) else {
        return ExecApi {
            version: DEFAULT_EXEC_API.to_owned(),
            warning: None,
            interactive: false,
        };
    };
    let info = serde_json::from_str::<serde_json::Value>(text).ok();
    let interactive = info
        .as_ref()
        .and_then(|v| v.get("spec")?.get("interactive")?.as_bool())
        .unwrap_or(false);
    let default = |warning: Option<String>| ExecApi {
        version: DEFAULT_EXEC_API.to_owned(),
        warning,
        interactive,
    };
    let version = info.and_then(|v| v.get("apiVersion")?.as_str().map(str::to_owned));
    match version.as_deref() {
        Some(v @ ("client.authentication.k8s.io/v1" | "client.authentication.k8s.io/v1beta1")) => ExecApi {
            version: v.to_owned(),
            warning: None,
            interactive,
        },
        Some(v @ "client.authentication.k8s.io/v1alpha1") => ExecApi {
            version: v.to_owned(),
            interactive,
            warning: Some(
                "client.authentication.k8s.io/v1alpha1 was removed in Kubernetes 1.24; set the kubeconfig's exec apiVersion to v1beta1 (\"ssobar kubeconfig\" writes it)".to_owned(),
            ),
        },
        // Shown on kubectl's stderr: whatever the variable holds stays on one plain line.
        Some(other) => default(Some(format!(
            "KUBERNETES_EXEC_INFO asks for {}, which ssobar does not know; answering with {DEFAULT_EXEC_API}",
            printable(other)
        ))),
        None => default(Some(format!(
            "KUBERNETES_EXEC_INFO is not readable ExecCredential JSON; answering with {DEFAULT_EXEC_API}"
        ))),
    }
}

/// A token and the time to report as its expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EksToken {
    /// `k8s-aws-v1.` + base64url(presigned URL), unpadded.
    pub token: String,
    /// Signing time + 14 minutes, or the credentials' expiry if that is sooner.
    #[serde(with = "crate::util::time::serde_timestamp")]
    pub expires_at: Timestamp,
}

/// Presigns GetCallerIdentity at `sts_endpoint` for `cluster_id`, as of `signed_at`.
pub fn presign(
    credentials: &AwsCredentials,
    cluster_id: &str,
    region: &str,
    sts_endpoint: &str,
    signed_at: Timestamp,
) -> Result<EksToken, String> {
    let identity = credentials.sdk_credentials().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let time = std::time::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(signed_at.as_second()).unwrap_or(0));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot sign: {e}"))?
        .into();
    let url = format!(
        "{}/?Action=GetCallerIdentity&Version=2011-06-15",
        sts_endpoint.trim_end_matches('/')
    );
    // The hash of the empty body, as botocore's query presigner (`aws eks get-token`) and
    // aws-iam-authenticator sign it: the same canonical request makes the same signature.
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        [(CLUSTER_HEADER, cluster_id)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| format!("cannot sign {url}: {e}"))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| format!("cannot sign: {e}"))?
        .into_parts();
    // aws-sigv4 adds the signature to the query, encoded as it signed it.
    let mut unsigned = http::Request::get(url.as_str())
        .body(())
        .map_err(|e| format!("cannot sign {url}: {e}"))?;
    instructions.apply_to_request_http1x(&mut unsigned);
    let presigned = unsigned.uri().to_string();
    let lifetime_end = add_seconds(signed_at, TOKEN_LIFETIME_SECS);
    Ok(EksToken {
        token: format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(presigned)),
        expires_at: lifetime_end.min(credentials.expiration),
    })
}

/// The ExecCredential kubectl reads from the plugin's stdout.
pub fn exec_credential(api_version: &str, token: &EksToken) -> String {
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": api_version,
        "spec": {},
        "status": {
            "expirationTimestamp": format_timestamp(token.expires_at),
            "token": token.token,
        },
    })
    .to_string()
}

/// The identity of a cached token: everything the caller asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest<'a> {
    /// `--profile`.
    pub profile: &'a str,
    /// `--cluster-id`.
    pub cluster_id: &'a str,
    /// `--region`, if given (else the profile decides, and the config's identity is checked).
    pub region: Option<&'a str>,
    /// `--role-arn`, if given.
    pub role_arn: Option<&'a str>,
}

/// What the cache keeps beside a token to know when it no longer applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedEksToken {
    /// The token as printed, and when it stops being used.
    #[serde(flatten)]
    pub token: EksToken,
    /// The credentials marker it was made from (see `credentials::marker_path`).
    pub marker: PathBuf,
    /// The access key id the marker held then.
    pub access_key_id: String,
    /// Size and modification time of the AWS config it was made with.
    pub config_stamp: Option<(u64, i128)>,
    /// The SSO token file of the session it was made under, and its size and modification
    /// time then: a sign-out elsewhere (`aws sso logout`), or any new sign-in or refresh,
    /// retires the token. `None` where tokens are not kept in files (the keychain store).
    #[serde(default)]
    pub session_token: Option<(PathBuf, Option<(u64, i128)>)>,
}

/// Tokens in `$XDG_RUNTIME_DIR/ssobar/eks`, one 0600 file per request.
#[derive(Clone, Debug)]
pub struct EksTokenCache {
    dir: PathBuf,
}

/// Size and modification time of a file: cheap enough for the warm path, and it changes
/// whenever the file is edited.
pub fn file_stamp(path: &Path) -> Option<(u64, i128)> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?;
    let nanos = match modified.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    };
    Some((meta.len(), nanos))
}

impl EksTokenCache {
    /// The cache under `runtime_dir`.
    pub fn new(runtime_dir: &Path) -> Self {
        Self {
            dir: runtime_dir.join("eks"),
        }
    }

    fn path(&self, request: &TokenRequest<'_>, config_path: &Path) -> PathBuf {
        let mut hasher = Sha256::new();
        for part in [
            request.profile,
            request.cluster_id,
            request.region.unwrap_or_default(),
            request.role_arn.unwrap_or_default(),
            &config_path.to_string_lossy(),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        self.dir
            .join(format!("{}.json", hex::encode(&hasher.finalize()[..16])))
    }

    /// A cached token with at least a minute of its reported validity left, made from
    /// credentials that are still the current ones and a config that has not changed.
    pub fn fresh(
        &self,
        request: &TokenRequest<'_>,
        config_path: &Path,
        now: Timestamp,
    ) -> Option<EksToken> {
        let bytes = std::fs::read(self.path(request, config_path)).ok()?;
        let cached: CachedEksToken = serde_json::from_slice(&bytes).ok()?;
        if cached.token.expires_at < add_seconds(now, MIN_LEFT_SECS) {
            return None;
        }
        let current_key = std::fs::read_to_string(&cached.marker).ok()?;
        if current_key != cached.access_key_id || file_stamp(config_path) != cached.config_stamp {
            return None;
        }
        if let Some((path, stamp)) = &cached.session_token
            && file_stamp(path) != *stamp
        {
            return None;
        }
        Some(cached.token)
    }

    /// Keeps a token (0600, atomically).
    pub fn store(
        &self,
        request: &TokenRequest<'_>,
        config_path: &Path,
        entry: &CachedEksToken,
    ) -> std::io::Result<()> {
        let json = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        fsutil::write_private(&self.path(request, config_path), &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> AwsCredentials {
        AwsCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: Some("session+token/=".into()),
            expiration: "2024-05-01T13:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn exec_api_follows_kubernetes_exec_info() {
        let info = |v: &str| {
            format!(
                r#"{{"kind":"ExecCredential","apiVersion":"{v}","spec":{{"interactive":false}}}}"#
            )
        };
        let v1 = exec_api(Some(&info("client.authentication.k8s.io/v1")));
        assert_eq!(v1.version, "client.authentication.k8s.io/v1");
        assert_eq!(v1.warning, None);
        let beta = exec_api(Some(&info("client.authentication.k8s.io/v1beta1")));
        assert_eq!(beta.version, DEFAULT_EXEC_API);
        let alpha = exec_api(Some(&info("client.authentication.k8s.io/v1alpha1")));
        assert_eq!(alpha.version, "client.authentication.k8s.io/v1alpha1");
        assert!(
            alpha
                .warning
                .unwrap()
                .contains("removed in Kubernetes 1.24")
        );
        let garbage = exec_api(Some("{not json"));
        assert_eq!(garbage.version, DEFAULT_EXEC_API);
        assert!(garbage.warning.unwrap().contains("not readable"));
        let unknown = exec_api(Some(&info("client.authentication.k8s.io/v2")));
        assert_eq!(unknown.version, DEFAULT_EXEC_API);
        assert!(unknown.warning.is_some());
        assert_eq!(
            exec_api(None),
            ExecApi {
                version: DEFAULT_EXEC_API.into(),
                warning: None,
                interactive: false,
            }
        );
    }

    #[test]
    fn kubectl_says_when_it_passed_its_terminal() {
        let info = |interactive: bool| {
            format!(
                r#"{{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{{"interactive":{interactive}}}}}"#
            )
        };
        assert!(exec_api(Some(&info(true))).interactive);
        assert!(!exec_api(Some(&info(false))).interactive);
        assert!(!exec_api(Some(r#"{"apiVersion":"client.authentication.k8s.io/v1"}"#)).interactive);
    }

    #[test]
    fn an_unknown_version_is_named_on_one_printable_line() {
        // The version is shown on kubectl's stderr: it must not bring escapes or lines along.
        let api = exec_api(Some(r#"{"apiVersion":"v9\n\u001b[2Jgone"}"#));
        assert_eq!(api.version, DEFAULT_EXEC_API);
        let warning = api.warning.unwrap();
        assert!(!warning.chars().any(char::is_control), "{warning:?}");
        assert!(warning.contains("asks for v9 gone,"), "{warning:?}");
    }

    #[test]
    fn the_token_is_a_presigned_get_caller_identity() {
        let signed_at: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let token = presign(
            &creds(),
            "prod",
            "eu-west-1",
            "https://sts.eu-west-1.amazonaws.com",
            signed_at,
        )
        .unwrap();
        let encoded = token.token.strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!encoded.contains('='), "unpadded");
        let url = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap();
        assert!(
            url.starts_with(
                "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
            ),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=ASIAEXAMPLE%2F20240501%2Feu-west-1%2Fsts%2Faws4_request",
            "X-Amz-Date=20240501T120000Z",
            "X-Amz-Expires=60",
            "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
            "X-Amz-Security-Token=session%2Btoken%2F%3D",
            "X-Amz-Signature=",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        assert_eq!(token.expires_at, "2024-05-01T12:14:00Z".parse().unwrap());
    }

    #[test]
    fn with_fips_asked_for_the_token_names_the_fips_sts_host() {
        let signed_at: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let env = crate::env::Env::from_pairs([("AWS_USE_FIPS_ENDPOINT", "true")]);
        let sts =
            crate::aws::endpoints::endpoint(&env, crate::aws::endpoints::Service::Sts, "us-east-1")
                .unwrap();
        let token = presign(&creds(), "prod", "us-east-1", &sts.url, signed_at).unwrap();
        let encoded = token.token.strip_prefix(TOKEN_PREFIX).unwrap();
        let url = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap();
        assert!(
            url.starts_with("https://sts-fips.us-east-1.amazonaws.com/?Action=GetCallerIdentity"),
            "{url}"
        );
    }

    #[test]
    fn tokens_in_other_partitions_name_their_regional_sts_host() {
        let signed_at: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        for (region, host) in [
            ("cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn/?"),
            ("us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com/?"),
        ] {
            let sts = crate::aws::endpoints::endpoint(
                &crate::env::Env::default(),
                crate::aws::endpoints::Service::Sts,
                region,
            )
            .unwrap();
            let token = presign(&creds(), "prod", region, &sts.url, signed_at).unwrap();
            let encoded = token.token.strip_prefix(TOKEN_PREFIX).unwrap();
            let url = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap();
            assert!(url.starts_with(host), "{url}");
            assert!(
                url.contains(&format!("%2F{region}%2Fsts%2Faws4_request")),
                "{url}"
            );
        }
    }

    #[test]
    fn tokens_never_outlive_their_credentials() {
        let signed_at: Timestamp = "2024-05-01T12:50:00Z".parse().unwrap();
        let token = presign(
            &creds(),
            "prod",
            "us-east-1",
            "https://sts.us-east-1.amazonaws.com",
            signed_at,
        )
        .unwrap();
        assert_eq!(token.expires_at, creds().expiration);
    }

    #[test]
    fn exec_credential_has_the_kubectl_shape() {
        let token = EksToken {
            token: "k8s-aws-v1.abc".into(),
            expires_at: "2024-05-01T12:14:00Z".parse().unwrap(),
        };
        let json: serde_json::Value =
            serde_json::from_str(&exec_credential("client.authentication.k8s.io/v1", &token))
                .unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "ExecCredential",
                "apiVersion": "client.authentication.k8s.io/v1",
                "spec": {},
                "status": {"expirationTimestamp": "2024-05-01T12:14:00Z", "token": "k8s-aws-v1.abc"}
            })
        );
    }

    #[test]
    fn cached_tokens_expire_with_their_credentials_and_config() {
        let dir = tempfile::tempdir().unwrap();
        let cache = EksTokenCache::new(dir.path());
        let config = dir.path().join("config");
        std::fs::write(&config, "[profile dev]\n").unwrap();
        let marker = dir.path().join("marker");
        std::fs::write(&marker, "ASIA1").unwrap();
        let sso_token = dir.path().join("sso-token.json");
        std::fs::write(&sso_token, "{}").unwrap();
        let request = TokenRequest {
            profile: "dev",
            cluster_id: "c",
            region: None,
            role_arn: None,
        };
        let entry = CachedEksToken {
            token: EksToken {
                token: "t".into(),
                expires_at: "2024-05-01T12:14:00Z".parse().unwrap(),
            },
            marker: marker.clone(),
            access_key_id: "ASIA1".into(),
            config_stamp: file_stamp(&config),
            session_token: Some((sso_token.clone(), file_stamp(&sso_token))),
        };
        cache.store(&request, &config, &entry).unwrap();
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        assert!(
            cache
                .fresh(&request, &config, at("2024-05-01T12:12:59Z"))
                .is_some()
        );
        assert!(
            cache
                .fresh(&request, &config, at("2024-05-01T12:13:01Z"))
                .is_none(),
            "under a minute left"
        );
        let other = TokenRequest {
            cluster_id: "d",
            ..request.clone()
        };
        assert!(
            cache
                .fresh(&other, &config, at("2024-05-01T12:00:00Z"))
                .is_none()
        );
        std::fs::write(&marker, "ASIA2").unwrap();
        assert!(
            cache
                .fresh(&request, &config, at("2024-05-01T12:00:00Z"))
                .is_none(),
            "credentials changed"
        );
        std::fs::write(&marker, "ASIA1").unwrap();
        std::fs::remove_file(&sso_token).unwrap();
        assert!(
            cache
                .fresh(&request, &config, at("2024-05-01T12:00:00Z"))
                .is_none(),
            "signed out elsewhere"
        );
        std::fs::write(&sso_token, "{}").unwrap();
        cache
            .store(
                &request,
                &config,
                &CachedEksToken {
                    session_token: Some((sso_token.clone(), file_stamp(&sso_token))),
                    ..entry
                },
            )
            .unwrap();
        std::fs::write(&config, "[profile dev]\nregion = eu-west-1\n").unwrap();
        assert!(
            cache
                .fresh(&request, &config, at("2024-05-01T12:00:00Z"))
                .is_none(),
            "config changed"
        );
    }
}
