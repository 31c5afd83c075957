//! What every AWS call trusts and goes through: the system's certificates plus the CA bundle
//! `AWS_CA_BUNDLE` names (a company proxy that inspects TLS signs with its own CA, and the AWS
//! CLI and every SDK take it from there), and the proxy the `HTTPS_PROXY` family names.
//!
//! Both are read from the [`Env`] a context carries, never from the process: the settings'
//! `https_proxy`, `no_proxy` and `ca_bundle` fill in what the environment lacks (an app the
//! desktop started has none of the shell's variables), and tests give their own.

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
}

fn provider() -> tls::Provider {
    tls::Provider::Rustls(CryptoMode::AwsLc)
}

/// The proxy AWS calls go through: the first of `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`,
/// `all_proxy` that is set (every AWS call is https; `HTTP_PROXY` would only catch the plain
/// http of a loopback endpoint), with the hosts `NO_PROXY` (or `no_proxy`) exempts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Proxy {
    /// The variable it came from.
    pub variable: &'static str,
    url: String,
    no_proxy: Option<String>,
}

impl Proxy {
    /// The proxy `env` names, if any.
    pub fn from_env(env: &Env) -> Option<Self> {
        let set = |name: &str| env.get(name).map(str::trim).filter(|v| !v.is_empty());
        let (variable, url) = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            .into_iter()
            .find_map(|name| set(name).map(|url| (name, url.to_owned())))?;
        let no_proxy = set("NO_PROXY")
            .or_else(|| set("no_proxy"))
            .map(str::to_owned);
        Some(Self {
            variable,
            url,
            no_proxy,
        })
    }

    /// The URL as it may be shown: a password in it as `***`.
    pub fn shown(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut parsed) if parsed.password().is_some() => {
                // A URL with a password has a host, so a password can be set on it.
                let _ = parsed.set_password(Some("***"));
                printable(parsed.as_str())
            }
            Ok(_) => printable(&self.url),
            Err(_) if self.url.contains('@') => "(a URL that does not parse)".to_owned(),
            Err(_) => printable(&self.url),
        }
    }

    fn config(&self) -> Result<ProxyConfig, CallError> {
        // As curl and the SDKs read it, a proxy without a scheme is plain http.
        let url = if self.url.contains("://") {
            self.url.clone()
        } else {
            format!("http://{}", self.url)
        };
        let config = ProxyConfig::https(url.as_str()).map_err(|e| {
            CallError::Other(format!(
                "{}={}: {e}; give the proxy as a URL such as http://proxy.example.com:3128",
                self.variable,
                self.shown()
            ))
        })?;
        Ok(match &self.no_proxy {
            Some(rules) => config.no_proxy(rules),
            None => config,
        })
    }
}

/// What a process's AWS calls trust and go through, as its environment says.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Transport {
    bundle: Option<Vec<u8>>,
    proxy: Option<Proxy>,
}

impl Transport {
    fn from_env(env: &Env) -> Result<Self, CallError> {
        Ok(Self {
            bundle: CaBundle::from_env(env)?.map(|bundle| bundle.pem),
            proxy: Proxy::from_env(env),
        })
    }

    fn tls_context(&self) -> Result<TlsContext, CallError> {
        let mut trust = TrustStore::default();
        if let Some(pem) = &self.bundle {
            trust = trust.with_pem_certificate(pem.clone());
        }
        TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .map_err(|e| CallError::Other(format!("cannot use the CA bundle: {e}")))
    }

    fn proxy_config(&self) -> Result<ProxyConfig, CallError> {
        self.proxy
            .as_ref()
            .map_or_else(|| Ok(ProxyConfig::disabled()), Proxy::config)
    }
}

/// The HTTP client every SDK client gets: one per process and transport, so that hundreds
/// of clients (a search of every account) share one connection pool. Built as
/// aws-smithy-runtime builds the SDK's default client, but with the proxy and the trust
/// read from `env` (the SDK reads the process's variables, which the settings do not fill).
pub fn sdk_http_client(env: &Env) -> Result<SharedHttpClient, CallError> {
    // Keyed by what the environment names, so that a bundle is read and checked once a
    // process, not once for each of a search's hundreds of clients (a bundle changed while the
    // app runs takes a restart, as for the SDKs).
    type Named = (Option<String>, Option<Proxy>);
    let key: Named = (
        env.get(CA_BUNDLE_VARIABLE).map(str::to_owned),
        Proxy::from_env(env),
    );
    static CLIENTS: OnceLock<Mutex<HashMap<Named, SharedHttpClient>>> = OnceLock::new();
    let mut clients = CLIENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    let transport = Transport::from_env(env)?;
    let context = transport.tls_context()?;
    let proxy = transport.proxy_config()?;
    let client = Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(provider())
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(proxy.clone()));
        connector.build()
    });
    clients.insert(key, client.clone());
    Ok(client)
}

/// A connector for the calls no SDK client makes (the console's federation endpoint, a start
/// URL's redirects), with `settings`: the same trust and proxy as the SDK clients.
pub fn connector(
    env: &Env,
    settings: &HttpConnectorSettings,
) -> Result<SharedHttpConnector, CallError> {
    let transport = Transport::from_env(env)?;
    let builder = Connector::builder()
        .connector_settings(settings.clone())
        .proxy_config(transport.proxy_config()?)
        .tls_provider(provider())
        .tls_context(transport.tls_context()?);
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
    fn an_empty_bundle_variable_is_no_bundle() {
        assert_eq!(
            CaBundle::from_env(&Env::from_pairs([(CA_BUNDLE_VARIABLE, " ")])),
            Ok(None)
        );
        assert_eq!(
            Transport::from_env(&Env::from_pairs([(CA_BUNDLE_VARIABLE, "")])).unwrap(),
            Transport {
                bundle: None,
                proxy: None
            }
        );
        let env = Env::from_pairs([("HTTPS_PROXY", "http://proxy.example.com:3128")]);
        let (one, two) = (
            sdk_http_client(&env).unwrap(),
            sdk_http_client(&env).unwrap(),
        );
        assert_eq!(format!("{one:?}"), format!("{two:?}"));
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

    #[test]
    fn the_proxy_is_the_first_https_or_all_variable_and_its_password_is_never_shown() {
        let env = Env::from_pairs([
            ("HTTP_PROXY", "http://plain.example.com:80"),
            ("all_proxy", "http://all.example.com:3128"),
            ("https_proxy", "http://alice:s3cret@proxy.example.com:3128"),
            ("no_proxy", "internal.example.com"),
        ]);
        let proxy = Proxy::from_env(&env).unwrap();
        assert_eq!(proxy.variable, "https_proxy");
        assert_eq!(proxy.shown(), "http://alice:***@proxy.example.com:3128/");
        assert_eq!(proxy.no_proxy.as_deref(), Some("internal.example.com"));
        assert!(proxy.config().is_ok());
        assert_eq!(
            Proxy::from_env(&Env::from_pairs([("HTTP_PROXY", "http://p:1")])),
            None
        );
        let bare = Proxy::from_env(&Env::from_pairs([(
            "HTTPS_PROXY",
            "proxy.example.com:3128",
        )]));
        assert!(
            bare.unwrap().config().is_ok(),
            "a proxy without a scheme is http"
        );
    }

    #[test]
    fn a_proxy_that_is_no_url_is_one_line_naming_its_variable_without_the_password() {
        let env = Env::from_pairs([("HTTPS_PROXY", "http://bob:hunter2@proxy example:3128")]);
        let error = Proxy::from_env(&env)
            .unwrap()
            .config()
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("HTTPS_PROXY="), "{error}");
        assert!(
            error.ends_with("such as http://proxy.example.com:3128"),
            "{error}"
        );
        assert!(
            !error.contains("hunter2") && !error.contains('\n'),
            "{error}"
        );
        assert!(sdk_http_client(&env).is_err());
    }
}
