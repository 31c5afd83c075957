//! Where the AWS services are: the standard `AWS_ENDPOINT_URL_*` overrides, else the public
//! endpoints. Tests and the demo reach ssobar-fake-aws this way and no other.

use crate::env::Env;

/// An AWS service ssobar talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// IAM Identity Center OIDC (sign-in).
    SsoOidc,
    /// The SSO portal (role credentials).
    Sso,
    /// STS (role chains, the EKS token).
    Sts,
    /// EKS (DescribeCluster).
    Eks,
}

impl Service {
    fn env_suffix(self) -> &'static str {
        match self {
            Self::SsoOidc => "SSO_OIDC",
            Self::Sso => "SSO",
            Self::Sts => "STS",
            Self::Eks => "EKS",
        }
    }

    fn default_url(self, region: &str) -> String {
        match self {
            Self::SsoOidc => format!("https://oidc.{region}.amazonaws.com"),
            Self::Sso => format!("https://portal.sso.{region}.amazonaws.com"),
            Self::Sts => format!("https://sts.{region}.amazonaws.com"),
            Self::Eks => format!("https://eks.{region}.amazonaws.com"),
        }
    }
}

/// The configured override for `service`, if any: `AWS_ENDPOINT_URL_<SERVICE>`, then
/// `AWS_ENDPOINT_URL`; none when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
pub fn endpoint_override(env: &Env, service: Service) -> Option<String> {
    if env
        .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return None;
    }
    env.get(&format!("AWS_ENDPOINT_URL_{}", service.env_suffix()))
        .or_else(|| env.get("AWS_ENDPOINT_URL"))
        .map(|url| url.trim_end_matches('/').to_owned())
}

/// The endpoint `service` is reached at in `region`.
pub fn endpoint(env: &Env, service: Service, region: &str) -> String {
    endpoint_override(env, service).unwrap_or_else(|| service.default_url(region))
}

/// True for `localhost` and loopback addresses, where plain http is acceptable.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why a URL fails the transport rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlProblem {
    /// No `scheme://`.
    NotAUrl,
    /// `scheme://` and no host after it.
    NoHost,
    /// Neither `https://` nor plain `http://` on a loopback host.
    NotHttps,
}

/// The transport rule for every URL that carries a sign-in or a token, or is opened for one:
/// `https://`, or plain `http://` on a loopback host (the demo and the tests).
pub fn check_transport(url: &str) -> Result<(), UrlProblem> {
    let (scheme, rest) = url.split_once("://").ok_or(UrlProblem::NotAUrl)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    if host.is_empty() {
        return Err(UrlProblem::NoHost);
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        _ => Err(UrlProblem::NotHttps),
    }
}

/// Checks that a start URL may be signed in to ([`check_transport`]). The error says why, in
/// one line.
pub fn check_start_url(url: &str) -> Result<(), String> {
    check_transport(url).map_err(|problem| match problem {
        UrlProblem::NotAUrl => format!(
            "the start URL {url} is not a URL; it looks like https://example.awsapps.com/start"
        ),
        UrlProblem::NoHost => format!("the start URL {url} has no host"),
        UrlProblem::NotHttps => format!(
            "refusing to sign in to {url}: the start URL must use https:// (plain http is allowed only on a loopback address)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_specific_overrides_win() {
        let env = Env::from_pairs([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9/"),
            ("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:8"),
        ]);
        assert_eq!(
            endpoint(&env, Service::SsoOidc, "eu-west-1"),
            "http://127.0.0.1:8"
        );
        assert_eq!(
            endpoint(&env, Service::Sso, "eu-west-1"),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            endpoint(&Env::default(), Service::Sso, "eu-west-1"),
            "https://portal.sso.eu-west-1.amazonaws.com"
        );
        let ignored = Env::from_pairs([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]);
        assert_eq!(
            endpoint(&ignored, Service::Sts, "us-east-1"),
            "https://sts.us-east-1.amazonaws.com"
        );
    }

    #[test]
    fn start_urls_must_be_https_unless_loopback() {
        assert!(check_start_url("https://corp.awsapps.com/start").is_ok());
        assert!(check_start_url("http://127.0.0.1:4567/start").is_ok());
        assert!(check_start_url("http://[::1]:80/start").is_ok());
        assert!(check_start_url("http://localhost/start").is_ok());
        let err = check_start_url("http://corp.awsapps.com/start").unwrap_err();
        assert!(err.starts_with("refusing to sign in to http://corp.awsapps.com/start"));
        assert!(check_start_url("corp.awsapps.com").is_err());
        assert!(check_start_url("https:///start").is_err());
        assert!(check_start_url("http://127.0.0.1.evil.com/start").is_err());
    }
}
