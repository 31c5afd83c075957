//! What every AWS call trusts and goes through: the system's certificates plus the CA bundle
//! `AWS_CA_BUNDLE` names (a company proxy that inspects TLS signs with its own CA, and the AWS
//! CLI and every SDK take it from there), and the proxy the `HTTPS_PROXY` family names.
//!
//! Without `AWS_CA_BUNDLE` the SDK clients keep the SDK's own HTTP client; with it, every
//! client of the process shares one client that trusts the bundle too, so that hundreds of
//! clients (a search of every account) still share one connection pool.

use crate::aws::CallError;
use crate::env::Env;
use crate::util::text::printable;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// The variable that names the CA bundle, as the AWS CLI and the SDKs read it.
pub const CA_BUNDLE_VARIABLE: &str = "AWS_CA_BUNDLE";

/// The certificates of a CA bundle file, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaBundle {
    /// The file, as the variable names it.
    pub path: PathBuf,
    /// Its bytes: PEM, every certificate in it one that parses.
    pem: Vec<u8>,
}

impl CaBundle {
    /// Reads the bundle `AWS_CA_BUNDLE` names; `Ok(None)` when it is unset or empty. A file
    /// that cannot be read, or that holds no certificate or one that does not parse, is one
    /// line naming it: the TLS library would otherwise fail on it at the first connection.
    pub fn from_env(env: &Env) -> Result<Option<Self>, CallError> {
        let Some(path) = env.get(CA_BUNDLE_VARIABLE).filter(|p| !p.trim().is_empty()) else {
            return Ok(None);
        };
        let shown = printable(path);
        let bad = |why: String| {
            CallError::Other(format!(
                "{CA_BUNDLE_VARIABLE}={shown}: {why}; point it at a PEM file of your CA's certificates, or unset it"
            ))
        };
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read ({e})")))?;
        Self::parse(PathBuf::from(path), pem).map_err(bad).map(Some)
    }

    /// Checks that `pem` holds at least one certificate and that every one of them is one a
    /// trust store takes.
    fn parse(path: PathBuf, pem: Vec<u8>) -> Result<Self, String> {
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("is not a PEM file ({e})"))?;
        if certificates.is_empty() {
            return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned());
        }
        for (index, certificate) in certificates.iter().enumerate() {
            webpki::anchor_from_trusted_cert(certificate).map_err(|e| {
                format!(
                    "its certificate number {} does not parse ({e:?})",
                    index + 1
                )
            })?;
        }
        Ok(Self { path, pem })
    }

    fn tls_context(&self) -> Result<TlsContext, CallError> {
        TlsContext::builder()
            .with_trust_store(TrustStore::default().with_pem_certificate(self.pem.clone()))
            .build()
            .map_err(|e| CallError::Other(format!("cannot use the CA bundle: {e}")))
    }
}

fn provider() -> tls::Provider {
    tls::Provider::Rustls(CryptoMode::AwsLc)
}

/// The HTTP client the SDK clients get: `None` keeps the SDK's own (no CA bundle is set);
/// else the one client of this process that trusts the bundle as well.
pub fn sdk_http_client(env: &Env) -> Result<Option<SharedHttpClient>, CallError> {
    let Some(bundle) = CaBundle::from_env(env)? else {
        return Ok(None);
    };
    static CLIENTS: OnceLock<Mutex<HashMap<Vec<u8>, SharedHttpClient>>> = OnceLock::new();
    let mut clients = CLIENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(client) = clients.get(&bundle.pem) {
        return Ok(Some(client.clone()));
    }
    let context = bundle.tls_context()?;
    // As aws-smithy-runtime builds the SDK's default client, so that the proxy variables and
    // the client's timeouts apply as they do without a bundle; `build_https` sets no proxy.
    let client = Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(provider())
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    clients.insert(bundle.pem, client.clone());
    Ok(Some(client))
}

/// A connector for the calls no SDK client makes (the console's federation endpoint, a start
/// URL's redirects), with `settings`: the same trust as the SDK clients, through the same
/// proxy (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, upper or lower case).
pub fn connector(
    env: &Env,
    settings: &HttpConnectorSettings,
) -> Result<SharedHttpConnector, CallError> {
    let mut builder = Connector::builder()
        .connector_settings(settings.clone())
        .proxy_config(ProxyConfig::from_env())
        .tls_provider(provider());
    if let Some(bundle) = CaBundle::from_env(env)? {
        builder = builder.tls_context(bundle.tls_context()?);
    }
    Ok(SharedHttpConnector::new(builder.build()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_A_CERTIFICATE: &str =
        "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";

    fn env_with(path: &std::path::Path) -> Env {
        Env::from_pairs([(CA_BUNDLE_VARIABLE, path.to_str().unwrap())])
    }

    #[test]
    fn no_bundle_keeps_the_sdk_client() {
        assert_eq!(
            CaBundle::from_env(&Env::from_pairs::<&str, &str>([])),
            Ok(None)
        );
        assert!(
            sdk_http_client(&Env::from_pairs([(CA_BUNDLE_VARIABLE, "")]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_bundle_that_is_missing_not_pem_or_not_a_certificate_is_one_line_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let text = dir.path().join("text.pem");
        std::fs::write(&text, "corporate root\n").unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, NOT_A_CERTIFICATE).unwrap();
        for (path, why) in [
            (&missing, "cannot be read"),
            (&text, "holds no PEM certificate"),
            (&garbage, "its certificate number 1 does not parse"),
        ] {
            let error = CaBundle::from_env(&env_with(path)).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("AWS_CA_BUNDLE={}: {why}", path.display())),
                "{error}"
            );
            assert!(error.ends_with("or unset it"), "{error}");
            assert!(!error.contains('\n'), "{error}");
            // The SDK clients and the connectors refuse it alike, before any connection.
            assert!(sdk_http_client(&env_with(path)).is_err());
            assert!(connector(&env_with(path), &HttpConnectorSettings::default()).is_err());
        }
    }
}
