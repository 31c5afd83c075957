//! Where the AWS services are: the standard `AWS_ENDPOINT_URL_*` overrides, else the endpoint
//! the service's own SDK resolver picks (which knows the partitions: `amazonaws.com.cn` in
//! China, the GovCloud hosts). Tests and the demo reach ssobar-fake-aws through the overrides
//! and no other way.

use crate::env::Env;
use crate::util::text::printable;
use crate::util::urls::{UrlProblem, check_url};

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
    /// AWS Sign-In's federation endpoint (the console's signin token).
    Signin,
}

impl Service {
    fn env_suffix(self) -> &'static str {
        match self {
            Self::SsoOidc => "SSO_OIDC",
            Self::Sso => "SSO",
            Self::Sts => "STS",
            Self::Eks => "EKS",
            Self::Signin => "SIGNIN",
        }
    }

    /// The service's name in messages.
    fn label(self) -> &'static str {
        match self {
            Self::SsoOidc => "SSO OIDC",
            Self::Sso => "SSO portal",
            Self::Sts => "STS",
            Self::Eks => "EKS",
            Self::Signin => "AWS sign-in",
        }
    }

    /// The endpoint the service's SDK picks for `region` when nothing overrides it: the SDK's
    /// own rules, asked the way a client built by [`sdk_config`](crate::aws) asks them.
    fn resolved_url(self, region: &str, variant: EndpointVariant) -> Result<String, String> {
        macro_rules! resolve {
            ($sdk:ident) => {{
                use $sdk::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
                let params = Params::builder()
                    .region(region.to_owned())
                    .use_fips(variant.fips)
                    .use_dual_stack(variant.dual_stack)
                    .build()
                    .map_err(|e| e.to_string())?;
                crate::util::ready::block_on_ready(DefaultResolver::new().resolve_endpoint(&params))
                    .map(|endpoint| endpoint.url().to_owned())
                    .map_err(|e| e.to_string())
            }};
        }
        match self {
            Self::SsoOidc => resolve!(aws_sdk_ssooidc),
            Self::Sso => resolve!(aws_sdk_sso),
            Self::Sts => resolve!(aws_sdk_sts),
            Self::Eks => resolve!(aws_sdk_eks),
            // No SDK speaks to it: one host per partition.
            Self::Signin => Ok(Partition::of_region(region).signin_url().to_owned()),
        }
    }
}

/// The endpoint variants the AWS CLI and the SDKs take from `AWS_USE_FIPS_ENDPOINT` and
/// `AWS_USE_DUALSTACK_ENDPOINT`: FIPS 140 validated hosts, hosts that answer on IPv6 too, or
/// both. Every SDK client and the EKS token's STS host follow them; an override does not (as
/// in the SDKs), nor does AWS Sign-In, which has no such hosts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointVariant {
    /// `AWS_USE_FIPS_ENDPOINT=true`.
    pub fips: bool,
    /// `AWS_USE_DUALSTACK_ENDPOINT=true`.
    pub dual_stack: bool,
}

impl EndpointVariant {
    /// The variants `env` asks for; a value other than `true` (any case) asks for none, as
    /// the SDKs read it.
    pub fn from_env(env: &Env) -> Self {
        let on = |variable: &str| {
            env.get(variable)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        };
        Self {
            fips: on("AWS_USE_FIPS_ENDPOINT"),
            dual_stack: on("AWS_USE_DUALSTACK_ENDPOINT"),
        }
    }
}

/// An AWS partition: the regions that one sign-in endpoint and one console serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    /// The commercial regions (`aws`).
    Aws,
    /// The China regions (`aws-cn`, `cn-*`).
    AwsCn,
    /// AWS GovCloud (US) (`aws-us-gov`, `us-gov-*`).
    AwsUsGov,
    /// The AWS European Sovereign Cloud (`aws-eusc`, `eusc-*`), whose service endpoints end
    /// in `amazonaws.eu` and whose console and sign-in live under `amazonaws-eusc.eu`.
    AwsEusc,
}

impl Partition {
    /// The partition `region` belongs to, by its name as the SDKs' partition rules match it.
    /// Regions of the isolated partitions have no public console and count as commercial.
    pub fn of_region(region: &str) -> Self {
        if region.starts_with("cn-") {
            Self::AwsCn
        } else if region.starts_with("us-gov-") {
            Self::AwsUsGov
        } else if region.starts_with("eusc-") {
            Self::AwsEusc
        } else {
            Self::Aws
        }
    }

    /// The AWS sign-in host, whose `/federation` trades credentials for a console sign-in.
    pub fn signin_url(self) -> &'static str {
        match self {
            Self::Aws => "https://signin.aws.amazon.com",
            Self::AwsCn => "https://signin.amazonaws.cn",
            Self::AwsUsGov => "https://signin.amazonaws-us-gov.com",
            // Regional only, and the partition has one region so far.
            Self::AwsEusc => "https://eusc-de-east-1.signin.amazonaws-eusc.eu",
        }
    }

    /// The host of the Management Console, without a region.
    pub fn console_host(self) -> &'static str {
        match self {
            Self::Aws => "console.aws.amazon.com",
            Self::AwsCn => "console.amazonaws.cn",
            Self::AwsUsGov => "console.amazonaws-us-gov.com",
            Self::AwsEusc => "console.amazonaws-eusc.eu",
        }
    }
}

/// Where an endpoint came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointSource {
    /// An `AWS_ENDPOINT_URL_*` variable: the client is pointed at it.
    Override,
    /// The SDK's resolver: the client resolves it the same way itself.
    Resolved,
}

/// The endpoint of a service in a region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL, without a trailing `/` (for messages and for URLs built on it).
    pub url: String,
    /// Where it came from.
    pub source: EndpointSource,
}

/// Why a service has no endpoint ssobar will use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// An override that would send tokens in the clear or somewhere else than it seems to,
    /// or is no URL at all.
    #[error(
        "refusing {variable}={url}: {}; fix it or run \"unset {variable}\"",
        why.as_ref().map_or_else(
            || "an endpoint must be an https:// URL (plain http is allowed only on a loopback address)".to_owned(),
            ToString::to_string
        )
    )]
    UnsafeOverride {
        /// The `AWS_ENDPOINT_URL_*` variable that set it.
        variable: String,
        /// The URL it holds, made printable.
        url: String,
        /// Why, when it is more than not being an https:// URL.
        why: Option<UrlProblem>,
    },
    /// The SDK knows no endpoint for the region.
    #[error(
        "no {service} endpoint for region {region} ({why}); check the region in the AWS config"
    )]
    Unresolved {
        /// The service, as the message names it (`SSO OIDC`, `STS`, ...).
        service: &'static str,
        /// The region no endpoint was found for.
        region: String,
        /// What the resolver said.
        why: String,
    },
}

/// The configured override for `service`, if any: `AWS_ENDPOINT_URL_<SERVICE>`, then
/// `AWS_ENDPOINT_URL`; none when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true. An override
/// that fails the [rule for URLs](check_url) is refused: tokens would travel to it.
pub fn endpoint_override(env: &Env, service: Service) -> Result<Option<String>, EndpointError> {
    if env
        .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Ok(None);
    }
    let specific = format!("AWS_ENDPOINT_URL_{}", service.env_suffix());
    let Some((variable, url)) = [specific.as_str(), "AWS_ENDPOINT_URL"]
        .into_iter()
        .find_map(|variable| env.get(variable).map(|url| (variable, url)))
    else {
        return Ok(None);
    };
    match check_url(url) {
        Ok(_) => Ok(Some(url.trim_end_matches('/').to_owned())),
        Err(problem) => Err(EndpointError::UnsafeOverride {
            variable: variable.to_owned(),
            url: printable(url),
            why: match problem {
                // The usual mistake: the sentence says what an endpoint must be.
                UrlProblem::NotAUrl | UrlProblem::NotHttps => None,
                other => Some(other),
            },
        }),
    }
}

/// The endpoint `service` is reached at in `region`: the override, else the SDK's choice.
pub fn endpoint(env: &Env, service: Service, region: &str) -> Result<Endpoint, EndpointError> {
    if let Some(url) = endpoint_override(env, service)? {
        return Ok(Endpoint {
            url,
            source: EndpointSource::Override,
        });
    }
    let url = service
        .resolved_url(region, EndpointVariant::from_env(env))
        .map_err(|why| EndpointError::Unresolved {
            service: service.label(),
            region: printable(region),
            why,
        })?;
    Ok(Endpoint {
        url: url.trim_end_matches('/').to_owned(),
        source: EndpointSource::Resolved,
    })
}

/// Checks that a start URL may be signed in to ([`check_url`]). The error says why, in one
/// line.
pub fn check_start_url(url: &str) -> Result<(), String> {
    let shown = printable(url);
    check_url(url).map(drop).map_err(|problem| match problem {
        UrlProblem::NotAUrl => format!(
            "the start URL {shown} is not a URL; it looks like https://example.awsapps.com/start"
        ),
        UrlProblem::NotHttps => format!(
            "refusing to sign in to {shown}: the start URL must use https:// (plain http is allowed only on a loopback address)"
        ),
        other => format!("refusing to sign in to {shown}: {other}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(env: &Env, service: Service, region: &str) -> String {
        endpoint(env, service, region).unwrap().url
    }

    #[test]
    fn service_specific_overrides_win() {
        let env = Env::from_pairs([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9/"),
            ("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:8"),
        ]);
        assert_eq!(
            endpoint(&env, Service::SsoOidc, "eu-west-1"),
            Ok(Endpoint {
                url: "http://127.0.0.1:8".into(),
                source: EndpointSource::Override
            })
        );
        assert_eq!(url(&env, Service::Sso, "eu-west-1"), "http://127.0.0.1:9");
        assert_eq!(
            endpoint(&Env::default(), Service::Sso, "eu-west-1"),
            Ok(Endpoint {
                url: "https://portal.sso.eu-west-1.amazonaws.com".into(),
                source: EndpointSource::Resolved
            })
        );
        let ignored = Env::from_pairs([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]);
        assert_eq!(
            url(&ignored, Service::Sts, "us-east-1"),
            "https://sts.us-east-1.amazonaws.com"
        );
    }

    #[test]
    fn fips_and_dual_stack_hosts_come_from_the_variables_as_the_sdks_read_them() {
        let fips = Env::from_pairs([("AWS_USE_FIPS_ENDPOINT", "TRUE")]);
        let dual = Env::from_pairs([("AWS_USE_DUALSTACK_ENDPOINT", "true")]);
        let both = Env::from_pairs([
            ("AWS_USE_FIPS_ENDPOINT", "true"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "true"),
        ]);
        let off = Env::from_pairs([("AWS_USE_FIPS_ENDPOINT", "yes")]);
        for (env, service, region, expected) in [
            (
                &fips,
                Service::Sts,
                "us-east-1",
                "https://sts-fips.us-east-1.amazonaws.com",
            ),
            (
                &fips,
                Service::SsoOidc,
                "us-east-1",
                "https://oidc-fips.us-east-1.amazonaws.com",
            ),
            (
                &fips,
                Service::Sso,
                "us-east-1",
                "https://portal.sso-fips.us-east-1.amazonaws.com",
            ),
            (
                &fips,
                Service::Eks,
                "us-east-1",
                "https://fips.eks.us-east-1.amazonaws.com",
            ),
            (
                &fips,
                Service::Sts,
                "us-gov-west-1",
                "https://sts.us-gov-west-1.amazonaws.com",
            ),
            (
                &dual,
                Service::Sts,
                "us-east-1",
                "https://sts.us-east-1.api.aws",
            ),
            (
                &dual,
                Service::Eks,
                "eu-west-1",
                "https://eks.eu-west-1.api.aws",
            ),
            (
                &both,
                Service::Sts,
                "us-east-1",
                "https://sts-fips.us-east-1.api.aws",
            ),
            (
                &off,
                Service::Sts,
                "us-east-1",
                "https://sts.us-east-1.amazonaws.com",
            ),
            // Sign-In has no such hosts.
            (
                &both,
                Service::Signin,
                "us-east-1",
                "https://signin.aws.amazon.com",
            ),
        ] {
            assert_eq!(
                endpoint(env, service, region).unwrap().url,
                expected,
                "{service:?} in {region}"
            );
        }
        // An override wins, as in the SDKs.
        let overridden = Env::from_pairs([
            ("AWS_USE_FIPS_ENDPOINT", "true"),
            ("AWS_ENDPOINT_URL_STS", "https://sts.example.com"),
        ]);
        assert_eq!(
            endpoint(&overridden, Service::Sts, "us-east-1")
                .unwrap()
                .url,
            "https://sts.example.com"
        );
    }

    #[test]
    fn the_european_sovereign_cloud_gets_its_own_hosts() {
        let none = Env::default();
        for (service, expected) in [
            (Service::SsoOidc, "https://oidc.eusc-de-east-1.amazonaws.eu"),
            (
                Service::Sso,
                "https://portal.sso.eusc-de-east-1.amazonaws.eu",
            ),
            (Service::Sts, "https://sts.eusc-de-east-1.amazonaws.eu"),
            (Service::Eks, "https://eks.eusc-de-east-1.amazonaws.eu"),
        ] {
            assert_eq!(
                endpoint(&none, service, "eusc-de-east-1").unwrap().url,
                expected,
                "{service:?}"
            );
        }
    }

    #[test]
    fn every_partition_gets_the_hosts_the_aws_cli_uses() {
        let none = Env::default();
        for (service, region, expected) in [
            (
                Service::SsoOidc,
                "us-east-1",
                "https://oidc.us-east-1.amazonaws.com",
            ),
            (
                Service::SsoOidc,
                "cn-north-1",
                "https://oidc.cn-north-1.amazonaws.com.cn",
            ),
            (
                Service::SsoOidc,
                "us-gov-west-1",
                "https://oidc.us-gov-west-1.amazonaws.com",
            ),
            (
                Service::Sso,
                "cn-northwest-1",
                "https://portal.sso.cn-northwest-1.amazonaws.com.cn",
            ),
            (
                Service::Sso,
                "us-gov-west-1",
                "https://portal.sso.us-gov-west-1.amazonaws.com",
            ),
            (
                Service::Sts,
                "cn-north-1",
                "https://sts.cn-north-1.amazonaws.com.cn",
            ),
            (
                Service::Sts,
                "us-gov-west-1",
                "https://sts.us-gov-west-1.amazonaws.com",
            ),
            (
                Service::Sts,
                "ap-southeast-7",
                "https://sts.ap-southeast-7.amazonaws.com",
            ),
            (
                Service::Eks,
                "cn-north-1",
                "https://eks.cn-north-1.amazonaws.com.cn",
            ),
            (
                Service::Eks,
                "us-gov-west-1",
                "https://eks.us-gov-west-1.amazonaws.com",
            ),
        ] {
            assert_eq!(
                url(&none, service, region),
                expected,
                "{service:?} in {region}"
            );
        }
    }

    #[test]
    fn the_sign_in_endpoint_is_the_partitions_unless_overridden() {
        let none = Env::default();
        for (region, expected) in [
            ("us-east-1", "https://signin.aws.amazon.com"),
            ("eu-west-1", "https://signin.aws.amazon.com"),
            ("cn-north-1", "https://signin.amazonaws.cn"),
            ("us-gov-west-1", "https://signin.amazonaws-us-gov.com"),
        ] {
            assert_eq!(url(&none, Service::Signin, region), expected, "{region}");
        }
        let env = Env::from_pairs([("AWS_ENDPOINT_URL_SIGNIN", "http://127.0.0.1:7/")]);
        assert_eq!(
            endpoint(&env, Service::Signin, "cn-north-1"),
            Ok(Endpoint {
                url: "http://127.0.0.1:7".into(),
                source: EndpointSource::Override
            })
        );
        let env = Env::from_pairs([("AWS_ENDPOINT_URL_SIGNIN", "http://signin.example.com")]);
        assert!(endpoint(&env, Service::Signin, "us-east-1").is_err());
    }

    #[test]
    fn plain_http_overrides_off_loopback_are_refused() {
        let env = Env::from_pairs([("AWS_ENDPOINT_URL_STS", "http://sts.example.com")]);
        let err = endpoint(&env, Service::Sts, "us-east-1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing AWS_ENDPOINT_URL_STS=http://sts.example.com: an endpoint must be an https:// URL (plain http is allowed only on a loopback address); fix it or run \"unset AWS_ENDPOINT_URL_STS\""
        );
        let env = Env::from_pairs([("AWS_ENDPOINT_URL", "sts.example.com")]);
        let err = endpoint(&env, Service::Eks, "us-east-1").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("refusing AWS_ENDPOINT_URL=sts.example.com: ")
        );
        let env = Env::from_pairs([("AWS_ENDPOINT_URL", "https://vpce.example.com/")]);
        assert_eq!(
            url(&env, Service::Sso, "us-east-1"),
            "https://vpce.example.com"
        );
    }

    #[test]
    fn overrides_are_read_as_browsers_read_them() {
        for (url, why) in [
            (
                r"http://evil\@127.0.0.1:9",
                "it holds a backslash, which browsers read as '/'",
            ),
            (
                "http://user@127.0.0.1:9",
                "it names a user before the host (user@host), which only serves to mislead",
            ),
            (
                "http://0x7f.1:9",
                "it is not written as browsers read it (http://127.0.0.1:9)",
            ),
            (
                "http://127.0.0.1.evil.example",
                "an endpoint must be an https:// URL (plain http is allowed only on a loopback address)",
            ),
        ] {
            let env = Env::from_pairs([("AWS_ENDPOINT_URL_SSO", url)]);
            let err = endpoint(&env, Service::Sso, "us-east-1").unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "refusing AWS_ENDPOINT_URL_SSO={url}: {why}; fix it or run \"unset AWS_ENDPOINT_URL_SSO\""
                )
            );
        }
        let env = Env::from_pairs([("AWS_ENDPOINT_URL_SSO", "http://[::1]:9/")]);
        assert_eq!(url(&env, Service::Sso, "us-east-1"), "http://[::1]:9");
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
        assert_eq!(
            check_start_url(r"http://evil\@127.0.0.1/start"),
            Err(r"refusing to sign in to http://evil\@127.0.0.1/start: it holds a backslash, which browsers read as '/'".to_owned())
        );
        assert_eq!(
            check_start_url("https://corp.awsapps.com@evil.example/start"),
            Err("refusing to sign in to https://corp.awsapps.com@evil.example/start: it names a user before the host (user@host), which only serves to mislead".to_owned())
        );
        assert_eq!(
            check_start_url("https://corp.awsapps.com/\x1b[2J"),
            Err("refusing to sign in to https://corp.awsapps.com/: it holds spaces or control characters".to_owned())
        );
    }
}
