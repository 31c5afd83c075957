//! **The** rule for every URL ssobar sends a token to or hands to a browser: endpoint
//! overrides, start URLs, the device flow's verification pages, console destinations.
//!
//! The URL is read by the WHATWG rules (the `url` crate), as browsers read it, so the host the
//! rule judges is the host a browser goes to: `http://evil\@127.0.0.1/` is `evil` to a browser,
//! whatever the text after the last `@` says. It must also be written as it is read: a form
//! that WHATWG rewrites (a backslash read as `/`, a tab or newline dropped, a host in hex,
//! percent-encoded or in Unicode, `http:host` without `//`) is refused, because another
//! reader (the AWS SDK's HTTP client, `xdg-open`, the person looking at it) may read it
//! otherwise.

use std::net::Ipv6Addr;
use url::{Host, Url};

/// Why a URL fails [`check_url`]. Its `Display` is the reason as a clause (`it is not a URL`),
/// for the caller's one-line message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    /// It starts with `-`: a program given it would take it for an option.
    #[error("it starts with '-', as an option would")]
    LooksLikeAnOption,
    /// Whitespace or control characters, which WHATWG drops or trims and a terminal acts on.
    #[error("it holds spaces or control characters")]
    SpacesOrControls,
    /// A backslash, which WHATWG reads as `/` before the path and other readers do not.
    #[error("it holds a backslash, which browsers read as '/'")]
    Backslash,
    /// Not a URL with a host (a bare host name, `javascript:`, `file:///`).
    #[error("it is not a URL")]
    NotAUrl,
    /// A user name or password before the host (`user@host`): no AWS URL has one, and it
    /// only serves to make the host look like another.
    #[error("it names a user before the host (user@host), which only serves to mislead")]
    UserInfo,
    /// Written otherwise than browsers read it; `origin` is what they read.
    #[error("it is not written as browsers read it ({origin})")]
    Disguised {
        /// The scheme, host and port browsers read, e.g. `http://127.0.0.1`.
        origin: String,
    },
    /// Neither `https://` nor plain `http://` on a loopback host.
    #[error("it is not https:// (plain http is allowed only on a loopback address)")]
    NotHttps,
}

/// Checks `text` against the rule for URLs that carry a sign-in or a token, or are opened for
/// one, and returns it as browsers read it. It passes when it is `https://HOST...`, or plain
/// `http://` on a loopback host (127.0.0.0/8, `::1`, `localhost`: the demo and the tests),
/// written as WHATWG reads it (see the module's notes), with no `user@` and no whitespace,
/// control character or backslash anywhere.
pub fn check_url(text: &str) -> Result<Url, UrlProblem> {
    if text.starts_with('-') {
        return Err(UrlProblem::LooksLikeAnOption);
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlProblem::SpacesOrControls);
    }
    if text.contains('\\') {
        return Err(UrlProblem::Backslash);
    }
    let url = Url::parse(text).map_err(|_| UrlProblem::NotAUrl)?;
    let host = url.host().ok_or(UrlProblem::NotAUrl)?;
    let scheme = url.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(UrlProblem::NotHttps);
    }
    let disguised = || UrlProblem::Disguised {
        origin: url.origin().ascii_serialization(),
    };
    // WHATWG reads `http:host` and `http:///host` as `http://host`; other readers do not.
    let prefix = format!("{scheme}://");
    let rest = match text.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(&prefix) => &text[prefix.len()..],
        _ => return Err(disguised()),
    };
    // Without backslashes, WHATWG ends the authority where every other reader does.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') || !url.username().is_empty() || url.password().is_some() {
        return Err(UrlProblem::UserInfo);
    }
    if !written_as_read(authority, &host) {
        return Err(disguised());
    }
    let loopback = match host {
        Host::Domain(name) => name == "localhost",
        Host::Ipv4(address) => address.is_loopback(),
        Host::Ipv6(address) => address.is_loopback(),
    };
    if scheme == "http" && !loopback {
        return Err(UrlProblem::NotHttps);
    }
    Ok(url)
}

/// Whether the host written in `authority` (`host`, `host:port`, `[v6]:port`) is the host
/// WHATWG read: the same text up to ASCII case, or for an IPv6 literal the same address.
fn written_as_read(authority: &str, host: &Host<&str>) -> bool {
    let written = match authority.strip_prefix('[') {
        Some(bracketed) => {
            return bracketed.split_once(']').is_some_and(|(inside, _)| {
                matches!(host, Host::Ipv6(read) if inside.parse::<Ipv6Addr>().ok() == Some(*read))
            });
        }
        None => authority.split(':').next().unwrap_or_default(),
    };
    match host {
        Host::Domain(read) => written.eq_ignore_ascii_case(read),
        Host::Ipv4(read) => written == read.to_string(),
        Host::Ipv6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disguised(origin: &str) -> Result<(), UrlProblem> {
        Err(UrlProblem::Disguised {
            origin: origin.to_owned(),
        })
    }

    #[test]
    fn every_form_gets_its_verdict() {
        use UrlProblem::*;
        let table: &[(&str, Result<(), UrlProblem>)] = &[
            // What AWS and the tests use.
            (
                "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH",
                Ok(()),
            ),
            ("https://corp.awsapps.com/start#/", Ok(())),
            ("HTTPS://Corp.AwsApps.COM/start", Ok(())),
            (
                "https://vpce-1.oidc.us-east-1.vpce.amazonaws.com:443/",
                Ok(()),
            ),
            ("https://xn--bcher-kva.example/", Ok(())),
            ("https://[2001:db8::1]:8443/", Ok(())),
            ("http://127.0.0.1:4567/device?user_code=X", Ok(())),
            ("http://127.8.9.10/", Ok(())),
            ("http://localhost/device", Ok(())),
            ("HTTP://LOCALHOST:80/", Ok(())),
            ("http://[::1]:80/device", Ok(())),
            ("http://[0:0:0:0:0:0:0:1]/", Ok(())),
            // The host after the last `@` is not the host: WHATWG reads `\` as `/`.
            (r"http://evil\@127.0.0.1/", Err(Backslash)),
            (r"http:\\evil\@127.0.0.1\", Err(Backslash)),
            (r"http://127.0.0.1\@evil.example/", Err(Backslash)),
            (r"https://evil.example\@corp.awsapps.com/", Err(Backslash)),
            (r"http:/\127.0.0.1/", Err(Backslash)),
            // A user before the host, however spelt.
            ("http://127.0.0.1@evil.example/", Err(UserInfo)),
            ("http://evil.example@127.0.0.1/", Err(UserInfo)),
            ("https://corp.awsapps.com:x@evil.example/", Err(UserInfo)),
            ("https://@corp.awsapps.com/", Err(UserInfo)),
            ("https://a@b@corp.awsapps.com/", Err(UserInfo)),
            // Hosts that only look like loopback, and fragments or queries that hold an `@`.
            ("http://127.0.0.1.evil.example/x", Err(NotHttps)),
            ("http://localhost.evil.example/", Err(NotHttps)),
            ("http://evil.example#@127.0.0.1/", Err(NotHttps)),
            ("http://evil.example?@127.0.0.1/", Err(NotHttps)),
            ("http://[::ffff:127.0.0.1]/", Err(NotHttps)),
            ("http://0.0.0.0/", Err(NotHttps)),
            ("http://evil.example/device", Err(NotHttps)),
            ("ftp://example.com/x", Err(NotHttps)),
            ("ws://127.0.0.1/", Err(NotHttps)),
            // IPv4 in the notations WHATWG still reads.
            ("http://0x7f.1/", disguised("http://127.0.0.1")),
            ("http://127.1/", disguised("http://127.0.0.1")),
            ("http://2130706433/", disguised("http://127.0.0.1")),
            ("http://0177.0.0.1/", disguised("http://127.0.0.1")),
            ("http://127.0.0.1./", disguised("http://127.0.0.1")),
            ("https://0x7f.1/", disguised("https://127.0.0.1")),
            // Percent-encoded and Unicode hosts, and full-width dots.
            ("http://%31%32%37.0.0.1/", disguised("http://127.0.0.1")),
            (
                "https://corp%2eawsapps.com/",
                disguised("https://corp.awsapps.com"),
            ),
            (
                "https://bücher.example/",
                disguised("https://xn--bcher-kva.example"),
            ),
            (
                "https://corp。awsapps.com/",
                disguised("https://corp.awsapps.com"),
            ),
            (
                "https://ＣＯＲＰ.awsapps.com/",
                disguised("https://corp.awsapps.com"),
            ),
            // `scheme:` without `//`, or with too many.
            ("http:127.0.0.1", disguised("http://127.0.0.1")),
            ("https:evil.example", disguised("https://evil.example")),
            ("https:///evil.example/", disguised("https://evil.example")),
            ("http:/127.0.0.1/", disguised("http://127.0.0.1")),
            // What WHATWG strips or drops silently.
            ("http://127.0.0.1\t.evil.example/", Err(SpacesOrControls)),
            ("http://127.0.0.1\n.evil.example/", Err(SpacesOrControls)),
            (" https://corp.awsapps.com/", Err(SpacesOrControls)),
            ("https://corp.awsapps.com/\x1b[2J", Err(SpacesOrControls)),
            ("https://corp.awsapps.com/\u{85}", Err(SpacesOrControls)),
            ("https://example.com/ x", Err(SpacesOrControls)),
            // Not URLs with a host.
            ("corp.awsapps.com", Err(NotAUrl)),
            ("https://", Err(NotAUrl)),
            ("https:///", Err(NotAUrl)),
            ("file:///etc/passwd", Err(NotAUrl)),
            ("javascript:alert(1)", Err(NotAUrl)),
            ("data:text/html,hi", Err(NotAUrl)),
            ("//corp.awsapps.com/start", Err(NotAUrl)),
            ("http://127.0.0.1%00.evil.example/", Err(NotAUrl)),
            ("http://[::1/", Err(NotAUrl)),
            ("http://127.0.0.1:99999/", Err(NotAUrl)),
            ("", Err(NotAUrl)),
            ("-https://example.com", Err(LooksLikeAnOption)),
            ("--new-window=https://example.com", Err(LooksLikeAnOption)),
        ];
        for (text, verdict) in table {
            assert_eq!(&check_url(text).map(drop), verdict, "{text:?}");
        }
    }

    #[test]
    fn a_url_that_passes_is_the_one_browsers_read() {
        let url = check_url("HTTP://LOCALHOST:80/Device?a=1#x").unwrap();
        assert_eq!(url.as_str(), "http://localhost/Device?a=1#x");
        assert_eq!(url.host_str(), Some("localhost"));
    }

    #[test]
    fn each_reason_is_one_clause() {
        let reasons = [
            UrlProblem::LooksLikeAnOption,
            UrlProblem::SpacesOrControls,
            UrlProblem::Backslash,
            UrlProblem::NotAUrl,
            UrlProblem::UserInfo,
            UrlProblem::Disguised {
                origin: "http://127.0.0.1".to_owned(),
            },
            UrlProblem::NotHttps,
        ];
        for reason in reasons {
            let text = reason.to_string();
            assert!(text.starts_with("it "), "{text}");
            assert!(!text.contains('\n') && !text.ends_with('.'), "{text}");
        }
    }
}
