//! The AWS access portal URL as people paste it, made the one form ssobar writes, compares and
//! signs in to: **the** rule for start URLs, which `ssobar setup`, the window's first run and
//! `ssobar doctor` all call.
//!
//! The portal's hosts (read from the AWS SDKs' own resolvers and the IAM Identity Center
//! guide):
//!
//! | host | region in it | one form |
//! |---|---|---|
//! | `NAME.awsapps.com` (an id `d-xxxxxxxxxx` or an alias) | no | `https://NAME.awsapps.com/start` |
//! | `start[.REGION].us-gov-home.awsapps.com` (GovCloud) | when given | `https://HOST/directory/ID` |
//! | `start[.REGION].home.awsapps.cn` (China) | when given | `https://HOST/directory/ID` |
//! | `ID.portal.REGION.app.aws` (dual-stack) | yes | `https://HOST` |
//! | `ID.REGION.portal.amazonaws.com` (IPv4, GovCloud too; a Region added later) | yes | `https://HOST` |
//! | `ID.REGION.portal.amazonaws.com.cn`, `ID.portal.REGION.app.amazonwebservices.com.cn` | yes | `https://HOST` |
//! | `ID.REGION.portal.amazonaws.eu`, `ID.portal.REGION.api.amazonwebservices.eu` | yes | `https://HOST` |
//!
//! Whatever follows (`#/`, a trailing slash, a query, `/start` twice) is dropped; hosts are
//! matched label by label, so `corp.awsapps.com.example.net` is no portal. Any other host is a
//! company's own name for the portal (a vanity URL) that redirects to it: [`parse`] says so
//! ([`StartUrl::Elsewhere`]) and the caller follows it one hop at a time with
//! [`redirect_target`], https only, at most [`MAX_REDIRECTS`] hops. A loopback URL (the demo's
//! and the tests' stand-in) is followed too, and where it answers without a redirect it is the
//! start URL itself ([`loopback_portal`]).

use crate::config::is_region_name;
use crate::util::text::printable;
use url::{Host, Url};

/// The most redirects a vanity URL is followed through before ssobar gives up.
pub const MAX_REDIRECTS: usize = 5;

/// What an access portal URL looks like, for messages.
pub const EXAMPLE: &str = "https://NAME.awsapps.com/start";

/// A pasted start URL, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartUrl {
    /// An AWS access portal, in its one form.
    Portal(Portal),
    /// Another host (a company's vanity URL, or a loopback stand-in): follow its redirects.
    Elsewhere(Url),
}

/// An AWS access portal URL in the one form ssobar writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Portal {
    /// The `sso_start_url` to write: `https://`, no fragment, query or trailing slash.
    pub url: String,
    /// The IAM Identity Center region, when the host names it.
    pub region: Option<String>,
    /// The portal's own name: its subdomain, instance or directory id (what a session is
    /// named after unless a name is given).
    pub name: String,
}

/// Why a start URL cannot be used. Each message is one line saying what to paste instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartUrlError {
    /// Nothing was given.
    #[error("no start URL given; your AWS access portal's URL looks like {EXAMPLE}")]
    Empty,
    /// Not a URL at all.
    #[error("{0} is not a URL; your AWS access portal's URL looks like {EXAMPLE}")]
    NotAUrl(String),
    /// Plain http (or another scheme) off loopback.
    #[error("{0} is not https; an AWS access portal is reached over https only ({EXAMPLE})")]
    NotHttps(String),
    /// A user name or password in the URL.
    #[error("{0} carries a user name or password; paste the portal's URL without them")]
    UserInfo(String),
    /// An AWS portal host with a path no portal has.
    #[error("{url} is not an AWS access portal page; paste {expected}")]
    NotAPortalPage {
        /// What was given.
        url: String,
        /// The portal URL it looks like.
        expected: String,
    },
    /// An AWS portal host whose region part is no region name.
    #[error("{url} names the region \"{region}\", which is not an AWS region; check the URL")]
    NotARegion {
        /// What was given.
        url: String,
        /// The part that should be a region.
        region: String,
    },
    /// A host under an AWS portal domain that is none of its forms.
    #[error("{0} is not an AWS access portal host; your portal's URL looks like {EXAMPLE}")]
    NotAPortalHost(String),
    /// A redirect to plain http off loopback.
    #[error("{from} redirects to {to}, which is not https; ssobar follows https redirects only")]
    RedirectNotHttps {
        /// The URL that redirected.
        from: String,
        /// Where to.
        to: String,
    },
    /// A redirect whose target is not a URL.
    #[error("{from} redirects to \"{to}\", which is not a URL")]
    BadRedirect {
        /// The URL that redirected.
        from: String,
        /// The `Location` as sent.
        to: String,
    },
    /// Too many hops.
    #[error(
        "{url} redirected {MAX_REDIRECTS} times without reaching an AWS access portal; paste the portal's own URL ({EXAMPLE})"
    )]
    TooManyRedirects {
        /// What was given.
        url: String,
    },
    /// The last hop answered without a redirect, and it is no portal.
    #[error(
        "{url} leads to {reached}, which is not an AWS access portal; paste the portal's own URL ({EXAMPLE})"
    )]
    LeadsElsewhere {
        /// What was given.
        url: String,
        /// Where it ended.
        reached: String,
    },
    /// A vanity URL could not be followed (the network).
    #[error("cannot follow {url}: {why}; check the URL, or paste the portal's own URL ({EXAMPLE})")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// Why.
        why: String,
    },
}

/// Reads a pasted start URL: an AWS portal in its one form, or another host to follow. A URL
/// without a scheme is taken as `https://`.
pub fn parse(input: &str) -> Result<StartUrl, StartUrlError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(StartUrlError::Empty);
    }
    let shown = printable(trimmed);
    // The URL standard drops tabs and line breaks inside a URL; a pasted one holds none.
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(StartUrlError::NotAUrl(shown));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let url = Url::parse(&with_scheme).map_err(|_| StartUrlError::NotAUrl(shown.clone()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(StartUrlError::NotAUrl(shown));
    }
    classify(url, &shown)
}

/// [`parse`]'s verdict on a URL that is already one (a redirect's target).
fn classify(mut url: Url, shown: &str) -> Result<StartUrl, StartUrlError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(StartUrlError::UserInfo(shown.to_owned()));
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let loopback = is_loopback(&url);
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(StartUrlError::NotHttps(shown.to_owned())),
    }
    url.set_fragment(None);
    if loopback {
        return Ok(StartUrl::Elsewhere(url));
    }
    let labels: Vec<&str> = host.split('.').collect();
    match portal_form(&labels) {
        None => Ok(StartUrl::Elsewhere(url)),
        Some(form) => {
            if url.port().is_some() {
                return Err(StartUrlError::NotAPortalHost(shown.to_owned()));
            }
            form.portal(&host, url.path(), shown).map(StartUrl::Portal)
        }
    }
}

/// The portal's host forms, as label patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form<'a> {
    /// `NAME.awsapps.com`.
    AwsApps { name: &'a str },
    /// `start[.REGION].us-gov-home.awsapps.com` or `start[.REGION].home.awsapps.cn`.
    Directory { region: Option<&'a str> },
    /// The instance forms, which carry the region.
    Instance { id: &'a str, region: &'a str },
    /// Under a portal domain, yet none of its forms.
    Unknown,
}

/// Which portal form the host's labels make, if it is under a portal domain at all.
fn portal_form<'a>(labels: &[&'a str]) -> Option<Form<'a>> {
    let ends = |suffix: &[&str]| labels.ends_with(suffix);
    let before = |suffix: &[&str]| &labels[..labels.len() - suffix.len()];
    // The dual-stack forms name the region after `portal`, the IPv4 forms before it.
    for (suffix, dual_stack) in [
        (&["app", "aws"][..], true),
        (&["app", "amazonwebservices", "com", "cn"][..], true),
        (&["api", "amazonwebservices", "eu"][..], true),
        (&["portal", "amazonaws", "com"][..], false),
        (&["portal", "amazonaws", "com", "cn"][..], false),
        (&["portal", "amazonaws", "eu"][..], false),
    ] {
        if !ends(suffix) {
            continue;
        }
        return Some(match (before(suffix), dual_stack) {
            ([id, "portal", region], true) | ([id, region], false) => Form::Instance { id, region },
            _ => Form::Unknown,
        });
    }
    for suffix in [
        &["us-gov-home", "awsapps", "com"][..],
        &["home", "awsapps", "cn"][..],
    ] {
        if ends(suffix) {
            return Some(match before(suffix) {
                ["start"] => Form::Directory { region: None },
                ["start", region] => Form::Directory {
                    region: Some(region),
                },
                _ => Form::Unknown,
            });
        }
    }
    if ends(&["awsapps", "com"]) || ends(&["awsapps", "cn"]) {
        return Some(match labels {
            [name, "awsapps", "com"] => Form::AwsApps { name },
            _ => Form::Unknown,
        });
    }
    None
}

impl Form<'_> {
    /// The portal of this form at `host`, given the URL's `path`.
    fn portal(self, host: &str, path: &str, shown: &str) -> Result<Portal, StartUrlError> {
        let region = |region: &str| -> Result<String, StartUrlError> {
            if is_region_name(region) {
                Ok(region.to_owned())
            } else {
                Err(StartUrlError::NotARegion {
                    url: shown.to_owned(),
                    region: printable(region),
                })
            }
        };
        match self {
            Self::AwsApps { name } => {
                let url = format!("https://{host}/start");
                // Anything under /start is a page of the portal; other paths are not.
                if !(path == "/" || path == "/start" || path.starts_with("/start/")) {
                    return Err(StartUrlError::NotAPortalPage {
                        url: shown.to_owned(),
                        expected: url,
                    });
                }
                Ok(Portal {
                    url,
                    region: None,
                    name: name.to_owned(),
                })
            }
            Self::Directory { region: named } => {
                let id = path
                    .strip_prefix("/directory/")
                    .and_then(|rest| rest.split('/').next())
                    .filter(|id| !id.is_empty());
                let Some(id) = id else {
                    return Err(StartUrlError::NotAPortalPage {
                        url: shown.to_owned(),
                        expected: format!("https://{host}/directory/ID"),
                    });
                };
                Ok(Portal {
                    url: format!("https://{host}/directory/{id}"),
                    region: named.map(region).transpose()?,
                    name: id.to_owned(),
                })
            }
            Self::Instance { id, region: named } => Ok(Portal {
                url: format!("https://{host}"),
                region: Some(region(named)?),
                name: id.to_owned(),
            }),
            Self::Unknown => Err(StartUrlError::NotAPortalHost(shown.to_owned())),
        }
    }
}

/// Where a redirect from `from` leads (its `Location`, resolved against `from`), read as
/// [`parse`] reads a pasted URL; https only, plain http only to a loopback host.
pub fn redirect_target(from: &Url, location: &str) -> Result<StartUrl, StartUrlError> {
    let shown_from = printable(from.as_str());
    let target = from
        .join(location.trim())
        .map_err(|_| StartUrlError::BadRedirect {
            from: shown_from.clone(),
            to: printable(location),
        })?;
    let shown_to = printable(target.as_str());
    let loopback = is_loopback(&target);
    if target.scheme() != "https" && !(target.scheme() == "http" && loopback) {
        return Err(StartUrlError::RedirectNotHttps {
            from: shown_from,
            to: shown_to,
        });
    }
    classify(target, &shown_to)
}

/// The portal a URL on a loopback host stands for when it answers without a redirect (the
/// demo's and the tests' fake AWS): the URL without its fragment, query or trailing slash. A
/// URL elsewhere is no portal.
pub fn loopback_portal(url: &Url) -> Option<Portal> {
    if !is_loopback(url) {
        return None;
    }
    // Named after its host and port, so that two stand-ins on one machine get two sessions.
    let host = match url.host() {
        Some(Host::Domain(name)) => name.to_owned(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        _ => "localhost".to_owned(),
    };
    let name = match url.port_or_known_default() {
        Some(port) => format!("{host}-{port}"),
        None => host,
    };
    Some(Portal {
        url: without_trailing_slash(url),
        region: None,
        name,
    })
}

/// Whether the URL's host is `localhost` or a loopback address, where plain http is allowed
/// (the transport rule of `aws::endpoints`, on the host as the URL parser read it).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `url` with no fragment, no query and no trailing slash.
fn without_trailing_slash(url: &Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    url.set_query(None);
    url.as_str().trim_end_matches('/').to_owned()
}

/// The form of a start URL two configs are compared by: the portal's one form, else the URL
/// without fragment, query or trailing slash, else the text trimmed. `https://corp.awsapps.com/start#/`
/// and `corp.awsapps.com/start/` are the same portal.
pub fn canonical(start_url: &str) -> String {
    match parse(start_url) {
        Ok(StartUrl::Portal(portal)) => portal.url,
        Ok(StartUrl::Elsewhere(url)) => without_trailing_slash(&url),
        Err(_) => start_url.trim().to_owned(),
    }
}

/// Whether two start URLs name the same portal ([`canonical`]).
pub fn same_portal(a: &str, b: &str) -> bool {
    canonical(a) == canonical(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn portal(input: &str) -> Portal {
        match parse(input) {
            Ok(StartUrl::Portal(portal)) => portal,
            other => panic!("{input}: {other:?}"),
        }
    }

    fn region(input: &str) -> Option<String> {
        portal(input).region
    }

    #[test]
    fn the_usual_pastes_give_one_url() {
        for pasted in [
            "https://d-1234567890.awsapps.com/start",
            "https://d-1234567890.awsapps.com/start/",
            "https://d-1234567890.awsapps.com/start#/",
            "https://d-1234567890.awsapps.com/start/#/",
            "https://d-1234567890.awsapps.com",
            "https://d-1234567890.awsapps.com/",
            "https://D-1234567890.AWSAPPS.COM/start",
            "  d-1234567890.awsapps.com/start  ",
            "https://d-1234567890.awsapps.com/start/#/console?account_id=1&role_name=R",
            "https://d-1234567890.awsapps.com:443/start",
        ] {
            let found = portal(pasted);
            assert_eq!(
                found.url, "https://d-1234567890.awsapps.com/start",
                "{pasted}"
            );
            assert_eq!(found.name, "d-1234567890", "{pasted}");
            assert_eq!(found.region, None, "{pasted}");
        }
        assert_eq!(portal("https://corp.awsapps.com/start").name, "corp");
    }

    #[test]
    fn hosts_that_carry_their_region_give_it() {
        for (pasted, url, expected) in [
            (
                "https://ssoins-7223c4f9117b4c94.portal.us-east-1.app.aws",
                "https://ssoins-7223c4f9117b4c94.portal.us-east-1.app.aws",
                "us-east-1",
            ),
            (
                "https://ssoins-7223c4f9117b4c94.portal.eu-west-1.app.aws/",
                "https://ssoins-7223c4f9117b4c94.portal.eu-west-1.app.aws",
                "eu-west-1",
            ),
            (
                "https://SSOINS-ABC123.PORTAL.US-WEST-2.APP.AWS/start#/",
                "https://ssoins-abc123.portal.us-west-2.app.aws",
                "us-west-2",
            ),
            (
                "https://ssoins-111111h2222j33pp.eu-west-1.portal.amazonaws.com",
                "https://ssoins-111111h2222j33pp.eu-west-1.portal.amazonaws.com",
                "eu-west-1",
            ),
            (
                "https://ssoins-1.us-gov-west-1.portal.amazonaws.com/start",
                "https://ssoins-1.us-gov-west-1.portal.amazonaws.com",
                "us-gov-west-1",
            ),
            (
                "https://ssoins-1.cn-north-1.portal.amazonaws.com.cn",
                "https://ssoins-1.cn-north-1.portal.amazonaws.com.cn",
                "cn-north-1",
            ),
            (
                "https://ssoins-1.portal.cn-northwest-1.app.amazonwebservices.com.cn/start",
                "https://ssoins-1.portal.cn-northwest-1.app.amazonwebservices.com.cn",
                "cn-northwest-1",
            ),
            (
                "https://start.cn-north-1.home.awsapps.cn/directory/d-9067000000#/",
                "https://start.cn-north-1.home.awsapps.cn/directory/d-9067000000",
                "cn-north-1",
            ),
            (
                "https://start.us-gov-east-1.us-gov-home.awsapps.com/directory/d-1/",
                "https://start.us-gov-east-1.us-gov-home.awsapps.com/directory/d-1",
                "us-gov-east-1",
            ),
        ] {
            let found = portal(pasted);
            assert_eq!(found.url, url, "{pasted}");
            assert_eq!(found.region.as_deref(), Some(expected), "{pasted}");
        }
        assert_eq!(
            portal("https://ssoins-7223c4f9117b4c94.portal.us-east-1.app.aws").name,
            "ssoins-7223c4f9117b4c94"
        );
    }

    #[test]
    fn directory_forms_without_a_region_leave_it_to_be_given() {
        let gov = portal("https://start.us-gov-home.awsapps.com/directory/d-123");
        assert_eq!(
            gov.url,
            "https://start.us-gov-home.awsapps.com/directory/d-123"
        );
        assert_eq!((gov.region, gov.name.as_str()), (None, "d-123"));
        assert_eq!(
            region("https://start.home.awsapps.cn/directory/corp#/"),
            None
        );
        assert!(matches!(
            parse("https://start.home.awsapps.cn/"),
            Err(StartUrlError::NotAPortalPage { .. })
        ));
    }

    #[test]
    fn other_hosts_are_followed_and_look_alikes_are_not_portals() {
        for pasted in [
            "https://sso.example.com",
            "https://d-1234567890.awsapps.com.evil.net/start",
            "https://evil-awsapps.com/start",
            "https://portal.amazonaws.com.evil.net/start",
            "http://127.0.0.1:8080/start",
            "http://localhost/go",
        ] {
            assert!(
                matches!(parse(pasted), Ok(StartUrl::Elsewhere(_))),
                "{pasted}: {:?}",
                parse(pasted)
            );
        }
        for pasted in [
            "https://a.b.awsapps.com/start",
            "https://awsapps.com/start",
            "https://x.portal.amazonaws.com",
            "https://d-1.awsapps.com:8443/start",
        ] {
            assert!(
                matches!(parse(pasted), Err(StartUrlError::NotAPortalHost(_))),
                "{pasted}: {:?}",
                parse(pasted)
            );
        }
    }

    #[test]
    fn bad_input_is_one_line_saying_what_to_paste() {
        for (pasted, starts) in [
            ("", "no start URL given"),
            ("   ", "no start URL given"),
            (
                "http://corp.awsapps.com/start",
                "http://corp.awsapps.com/start is not https",
            ),
            (
                "http://sso.example.com",
                "http://sso.example.com is not https",
            ),
            (
                "ftp://corp.awsapps.com/start",
                "ftp://corp.awsapps.com/start is not https",
            ),
            ("https://", "https:// is not a URL"),
            (
                "https://a b.awsapps.com/start",
                "https://a b.awsapps.com/start is not a URL",
            ),
            (
                "https://u:p@corp.awsapps.com/start",
                "https://u:p@corp.awsapps.com/start carries",
            ),
            (
                "https://corp.awsapps.com/console",
                "https://corp.awsapps.com/console is not an AWS access portal page; paste https://corp.awsapps.com/start",
            ),
            (
                "https://ssoins-1.portal.nowhere.app.aws",
                "https://ssoins-1.portal.nowhere.app.aws names the region \"nowhere\"",
            ),
            (
                "https://corp.awsapps.com/start\n[x]",
                "https://corp.awsapps.com/start [x] is not a URL",
            ),
        ] {
            let message = parse(pasted).unwrap_err().to_string();
            assert!(message.starts_with(starts), "{pasted:?}: {message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn redirects_are_followed_over_https_only() {
        let vanity = Url::parse("https://sso.example.com/aws").unwrap();
        assert_eq!(
            redirect_target(&vanity, "https://corp.awsapps.com/start#/"),
            Ok(StartUrl::Portal(Portal {
                url: "https://corp.awsapps.com/start".into(),
                region: None,
                name: "corp".into()
            }))
        );
        assert_eq!(
            redirect_target(&vanity, "/next"),
            Ok(StartUrl::Elsewhere(
                Url::parse("https://sso.example.com/next").unwrap()
            ))
        );
        assert!(matches!(
            redirect_target(&vanity, "http://corp.awsapps.com/start"),
            Err(StartUrlError::RedirectNotHttps { .. })
        ));
        assert!(matches!(
            redirect_target(&vanity, "http://sso.example.com/plain"),
            Err(StartUrlError::RedirectNotHttps { .. })
        ));
        // The tests' stand-in: loopback http, and a redirect to its own page.
        let fake = Url::parse("http://127.0.0.1:9/go").unwrap();
        assert!(matches!(
            redirect_target(&fake, "/start"),
            Ok(StartUrl::Elsewhere(_))
        ));
        assert!(matches!(
            redirect_target(&fake, "javascript:alert(1)"),
            Err(StartUrlError::RedirectNotHttps { .. })
        ));
    }

    #[test]
    fn a_loopback_page_is_its_own_portal() {
        let url = Url::parse("http://127.0.0.1:9/start/?x=1#/").unwrap();
        let portal = loopback_portal(&url).unwrap();
        assert_eq!(portal.url, "http://127.0.0.1:9/start");
        assert_eq!(portal.name, "127.0.0.1-9");
        let v6 = loopback_portal(&Url::parse("http://[::1]:8080/").unwrap()).unwrap();
        assert_eq!(v6.name, "localhost-8080");
        assert_eq!(
            loopback_portal(&Url::parse("https://sso.example.com").unwrap()),
            None
        );
    }

    #[test]
    fn the_same_portal_is_recognised_however_it_was_written() {
        assert!(same_portal(
            "https://corp.awsapps.com/start#/",
            "corp.awsapps.com/start/"
        ));
        assert!(same_portal(
            "http://127.0.0.1:9/start/",
            "http://127.0.0.1:9/start"
        ));
        assert!(!same_portal(
            "https://corp.awsapps.com/start",
            "https://other.awsapps.com/start"
        ));
        assert_eq!(canonical(" not a url "), "not a url");
    }
}
