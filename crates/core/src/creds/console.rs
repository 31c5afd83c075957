//! The AWS Management Console as a profile's role: where in the console to land, the signin
//! token the federation endpoint trades for the role's credentials, and the login URL that
//! carries it. It lives with the credentials because it is one more thing made of them: the
//! vault supplies them, `aws/federation.rs` makes the one call, the rest is pure.

use crate::aws::CallError;
use crate::aws::credentials::AwsCredentials;
use crate::aws::endpoints::Partition;
use crate::aws::federation::{FederationClient, encode};
use crate::config::login_command;
use crate::context::Context;
use crate::creds::error::CredentialsError;
use crate::creds::plan::Step;
use crate::creds::vault::Vault;
use crate::util::secret::Secret;
use crate::util::text::printable;
use crate::util::urls::{UrlProblem, check_url};

/// Who sent the person to the console: the console links back to it when the session ends.
pub const ISSUER: &str = "https://github.com/ssobar/ssobar";

/// Services whose console is global: their page takes no region.
const GLOBAL_SERVICES: &[&str] = &["iam", "billing", "organizations", "route53", "cloudfront"];

/// Where in the console to land.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// The console's home page in the region.
    Home,
    /// A service's page in the region, by the word its console URL uses (`ec2`, `s3`, `eks`).
    Service(String),
    /// Any `https://` URL, passed through as it is.
    Url(String),
    /// An EKS cluster's page in the region, by the cluster's name.
    EksCluster(String),
}

/// A `--destination` that is neither an https URL nor a service word.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} is not a console destination{}: pass an https:// URL or a service name such as ec2, s3 or eks",
    printable(.text),
    .why.as_ref().map(|why| format!(" ({why})")).unwrap_or_default()
)]
pub struct DestinationError {
    /// What was given.
    pub text: String,
    /// Why a URL was refused, when it is more than not being an https:// URL.
    pub why: Option<UrlProblem>,
}

impl std::str::FromStr for Destination {
    type Err = DestinationError;

    /// An `https://` URL that passes the [rule for URLs](check_url), or a service word of
    /// letters, digits and dashes (any case).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refused = |why| DestinationError {
            text: text.to_owned(),
            why,
        };
        if text.contains("://") {
            return match check_url(text) {
                Ok(url) if url.scheme() == "https" => Ok(Self::Url(text.to_owned())),
                Ok(_) | Err(UrlProblem::NotHttps | UrlProblem::NotAUrl) => Err(refused(None)),
                Err(why) => Err(refused(Some(why))),
            };
        }
        let word = text.to_ascii_lowercase();
        let is_word = !word.is_empty()
            && !word.starts_with('-')
            && word
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if is_word {
            Ok(Self::Service(word))
        } else {
            Err(refused(None))
        }
    }
}

impl Destination {
    /// The console URL of this destination in `region` (a region name, as
    /// [`is_region_name`](crate::config::is_region_name) checks), on the console of its
    /// partition. Most services live at `https://REGION.console.aws.amazon.com/SERVICE/home?region=REGION`;
    /// S3 has a host of its own, and the global services (IAM, billing, organizations, Route 53,
    /// CloudFront) take no region. Outside the commercial partition the console has no
    /// regional hosts.
    pub fn url(&self, region: &str) -> String {
        let partition = Partition::of_region(region);
        let console = partition.console_host();
        let regional = match partition {
            Partition::Aws | Partition::AwsEusc => format!("{region}.{console}"),
            Partition::AwsCn | Partition::AwsUsGov => console.to_owned(),
        };
        match self {
            Self::Url(url) => url.clone(),
            Self::Home => format!("https://{regional}/console/home?region={region}"),
            Self::Service(service) if GLOBAL_SERVICES.contains(&service.as_str()) => {
                format!("https://{console}/{service}/home")
            }
            Self::Service(service) if service == "s3" && partition == Partition::Aws => {
                format!("https://s3.{console}/s3/home?region={region}")
            }
            Self::Service(service) => {
                format!("https://{regional}/{service}/home?region={region}")
            }
            Self::EksCluster(name) => {
                format!("https://{regional}/eks/home?region={region}#/clusters/{name}")
            }
        }
    }
}

/// The login URL: `federation_url?Action=login&Issuer=..&Destination=..&SigninToken=..`, every
/// value percent-encoded. It signs whoever opens it in to the console for 15 minutes, so it is
/// a [`Secret`].
pub fn login_url(
    federation_url: &str,
    signin_token: &Secret,
    destination: &str,
    issuer: &str,
) -> Secret {
    Secret::new(format!(
        "{federation_url}?Action=login&Issuer={}&Destination={}&SigninToken={}",
        encode(issuer),
        encode(destination),
        encode(signin_token.expose())
    ))
}

/// Why no console URL could be made; each message is one line saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The role's credentials could not be had.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The federation endpoint refused the credentials (revoked, say): a new sign-in brings
    /// new ones.
    #[error(
        "the AWS sign-in endpoint refused the role credentials of {profile} ({error}); run \"{command}\" to get new ones"
    )]
    Refused {
        /// The profile (or account and role) whose credentials they were.
        profile: String,
        /// What the endpoint answered.
        error: CallError,
        /// The forced sign-in that retires them.
        command: String,
    },
    /// The federation endpoint could not be asked (the network, its own faults).
    #[error("cannot get a console sign-in token for {profile}: {error}")]
    Federation {
        /// The profile (or account and role) the token was for.
        profile: String,
        /// What went wrong.
        error: CallError,
    },
}

impl ConsoleError {
    /// Whether running the same command again may well work (see [`CallError::is_transient`]).
    pub fn worth_running_again(&self) -> bool {
        match self {
            Self::Credentials(e) => e.worth_running_again(),
            Self::Federation { error, .. } => error.is_transient(),
            Self::Refused { .. } => false,
        }
    }
}

/// The console login URL for the role at the end of `steps` (a profile's plan, or a
/// [`Step::Sso`] the tray builds for an account and role), landing on `destination` in
/// `region`. The credentials come from the vault as for `credential_process`: a session that
/// needs a sign-in fails with [`CredentialsError::SignInNeeded`].
pub async fn console_url(
    ctx: &Context,
    steps: &[Step],
    destination: &Destination,
    region: &str,
) -> Result<Secret, ConsoleError> {
    let credentials = Vault::new(ctx).credentials(steps).await?;
    console_url_with(ctx, steps, &credentials, destination, region).await
}

/// [`console_url`] with the credentials of `steps` already at hand (the helper gets them as
/// every command does, recovering from an expired session first).
pub async fn console_url_with(
    ctx: &Context,
    steps: &[Step],
    credentials: &AwsCredentials,
    destination: &Destination,
    region: &str,
) -> Result<Secret, ConsoleError> {
    let failed = |error: CallError| failure(steps, error);
    let client = FederationClient::new(&ctx.env, region).map_err(failed)?;
    let token = client.signin_token(credentials).await.map_err(failed)?;
    Ok(login_url(
        client.federation_url(),
        &token,
        &destination.url(region),
        ISSUER,
    ))
}

/// What a failed federation call means for the role of `steps`: a refusal (the service
/// answered no) names the forced sign-in that brings new credentials.
fn failure(steps: &[Step], error: CallError) -> ConsoleError {
    match (&error, steps.first()) {
        (
            CallError::Service { .. },
            Some(Step::Sso {
                session, profile, ..
            }),
        ) => ConsoleError::Refused {
            profile: role_label(steps),
            error,
            // The tray's steps for an account and role that no profile names have no profile.
            command: format!(
                "{} --force",
                login_command(session, Some(profile.as_str()).filter(|p| !p.is_empty()))
            ),
        },
        _ => ConsoleError::Federation {
            profile: role_label(steps),
            error,
        },
    }
}

/// The role in messages: `profile NAME`, or `ROLE in ACCOUNT` when no profile names it.
pub fn role_label(steps: &[Step]) -> String {
    match steps.last() {
        Some(Step::Assume { profile, .. }) => format!("profile {profile}"),
        Some(Step::Sso {
            profile,
            account_id,
            role_name,
            ..
        }) if profile.is_empty() => format!("{role_name} in {account_id}"),
        Some(Step::Sso { profile, .. }) => format!("profile {profile}"),
        None => "no role".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SessionId, SsoSessionConfig};

    fn sso_step(session: SessionId, profile: &str) -> Step {
        Step::Sso {
            session: SsoSessionConfig {
                id: session,
                start_url: "https://corp.awsapps.com/start".into(),
                region: "us-east-1".into(),
                registration_scopes: None,
            },
            profile: profile.into(),
            account_id: "111122223333".into(),
            role_name: "Admin".into(),
        }
    }

    fn refusal() -> CallError {
        CallError::Service {
            code: "HTTP 400".into(),
            message: "Bad Request".into(),
        }
    }

    #[test]
    fn a_refusal_names_the_forced_sign_in_also_for_a_role_no_profile_names() {
        let named = SessionId::Named("corp".into());
        let err = failure(&[sso_step(named.clone(), "")], refusal()).to_string();
        assert_eq!(
            err,
            "the AWS sign-in endpoint refused the role credentials of Admin in 111122223333 (HTTP 400: Bad Request); run \"ssobar login --sso-session corp --force\" to get new ones"
        );
        let legacy = SessionId::Legacy("https://corp.awsapps.com/start".into());
        let err = failure(&[sso_step(legacy, "dev")], refusal()).to_string();
        assert!(
            err.contains("of profile dev (")
                && err.ends_with("run \"ssobar login --profile dev --force\" to get new ones"),
            "{err}"
        );
        let fault = CallError::Timeout {
            endpoint: "https://signin.aws.amazon.com/federation".into(),
        };
        let err = failure(&[sso_step(named, "dev")], fault);
        assert!(err.worth_running_again());
        assert_eq!(
            err.to_string(),
            "cannot get a console sign-in token for profile dev: https://signin.aws.amazon.com/federation did not answer in time"
        );
    }

    fn parsed(text: &str) -> Destination {
        text.parse().unwrap()
    }

    #[test]
    fn an_eks_cluster_lands_on_its_page_in_its_region_and_partition() {
        let prod = Destination::EksCluster("prod".into());
        assert_eq!(
            prod.url("eu-west-1"),
            "https://eu-west-1.console.aws.amazon.com/eks/home?region=eu-west-1#/clusters/prod"
        );
        assert_eq!(
            prod.url("cn-north-1"),
            "https://console.amazonaws.cn/eks/home?region=cn-north-1#/clusters/prod"
        );
    }

    #[test]
    fn a_service_word_expands_to_its_console_in_the_region() {
        assert_eq!(
            parsed("ec2").url("eu-west-1"),
            "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1"
        );
        assert_eq!(
            parsed("EKS").url("us-east-2"),
            "https://us-east-2.console.aws.amazon.com/eks/home?region=us-east-2"
        );
        assert_eq!(
            parsed("s3").url("eu-west-1"),
            "https://s3.console.aws.amazon.com/s3/home?region=eu-west-1"
        );
        assert_eq!(
            parsed("iam").url("eu-west-1"),
            "https://console.aws.amazon.com/iam/home"
        );
        assert_eq!(
            Destination::Home.url("ap-southeast-2"),
            "https://ap-southeast-2.console.aws.amazon.com/console/home?region=ap-southeast-2"
        );
    }

    #[test]
    fn other_partitions_land_on_their_own_console() {
        assert_eq!(
            parsed("ec2").url("cn-north-1"),
            "https://console.amazonaws.cn/ec2/home?region=cn-north-1"
        );
        assert_eq!(
            parsed("s3").url("us-gov-west-1"),
            "https://console.amazonaws-us-gov.com/s3/home?region=us-gov-west-1"
        );
        assert_eq!(
            parsed("iam").url("us-gov-east-1"),
            "https://console.amazonaws-us-gov.com/iam/home"
        );
        assert_eq!(
            Destination::Home.url("cn-northwest-1"),
            "https://console.amazonaws.cn/console/home?region=cn-northwest-1"
        );
        // The European Sovereign Cloud's console has regional hosts, under its own domain.
        assert_eq!(
            parsed("ec2").url("eusc-de-east-1"),
            "https://eusc-de-east-1.console.amazonaws-eusc.eu/ec2/home?region=eusc-de-east-1"
        );
        assert_eq!(
            Partition::of_region("eusc-de-east-1").signin_url(),
            "https://eusc-de-east-1.signin.amazonaws-eusc.eu"
        );
    }

    #[test]
    fn https_urls_pass_through_and_anything_else_is_refused_in_one_line() {
        let url = "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:sort=desc&v=3";
        assert_eq!(parsed(url), Destination::Url(url.to_owned()));
        assert_eq!(parsed(url).url("us-east-1"), url);
        assert_eq!(
            parsed("HTTPS://example.com"),
            Destination::Url("HTTPS://example.com".into())
        );
        for bad in [
            "http://console.aws.amazon.com/",
            "ftp://x",
            "https://",
            "https://x/\x1b[2J",
            "ec2/home",
            "",
            "-x",
            "ec2 s3",
            "javascript:alert(1)",
        ] {
            let err = bad.parse::<Destination>().unwrap_err().to_string();
            assert!(
                err.ends_with("pass an https:// URL or a service name such as ec2, s3 or eks"),
                "{bad}: {err}"
            );
            assert!(!err.contains('\x1b') && !err.contains('\n'), "{err:?}");
        }
    }

    #[test]
    fn a_url_destination_is_read_as_browsers_read_it() {
        for (bad, why) in [
            (
                r"https://console.aws.amazon.com\@evil.example/",
                "it holds a backslash, which browsers read as '/'",
            ),
            (
                "https://console.aws.amazon.com@evil.example/",
                "it names a user before the host (user@host), which only serves to mislead",
            ),
            // A Greek omicron for the first "o".
            (
                "https://c\u{3bf}nsole.aws.amazon.com/",
                "it is not written as browsers read it (https://xn--cnsole-i0e.aws.amazon.com)",
            ),
        ] {
            assert_eq!(
                bad.parse::<Destination>().unwrap_err().to_string(),
                format!(
                    "{bad} is not a console destination ({why}): pass an https:// URL or a service name such as ec2, s3 or eks"
                )
            );
        }
        assert!("https:evil.example".parse::<Destination>().is_err());
    }

    #[test]
    fn the_login_url_carries_every_value_encoded() {
        let destination = "https://x.example/a?b=c&d=e#f";
        let url = login_url(
            "https://signin.aws.amazon.com/federation",
            &Secret::new("to+ken/="),
            destination,
            ISSUER,
        );
        let (base, query) = url.expose().split_once('?').unwrap();
        assert_eq!(base, "https://signin.aws.amazon.com/federation");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [
                ("Action".to_owned(), "login".to_owned()),
                ("Issuer".to_owned(), ISSUER.to_owned()),
                ("Destination".to_owned(), destination.to_owned()),
                ("SigninToken".to_owned(), "to+ken/=".to_owned()),
            ]
        );
        assert_eq!(query.matches('&').count(), 3, "{query}");
        assert!(!query.contains('#'));
        assert!(!format!("{url:?}").contains("to+ken"));
    }
}
