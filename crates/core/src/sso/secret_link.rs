//! A URL that is itself a secret, handed to the browser without showing it to anyone else.
//!
//! The console's login URL signs whoever opens it in as the role for 15 minutes. Given to a
//! browser as an argument it would sit in the opener's command line, which every local user
//! can read (`/proc/PID/cmdline`); put on the clipboard it would stay in clipboard managers'
//! histories. So the browser (or the clipboard) gets a one-time link instead:
//! `http://127.0.0.1:PORT/` and 64 random hex digits, served by the
//! [loopback server](crate::util::loopback_http), which answers it once with a redirect to
//! the secret URL (`303`, `cache-control: no-store`, `referrer-policy: no-referrer`) and
//! stops listening. Until then the link is only as good as the [`Admits`] rule: on Linux the
//! redirect goes only to a client that runs as this user (the owner of its socket in the
//! kernel's socket tables); another user who read the link in a command line gets 403 and the
//! link waits on. Where no socket table says who a client is (macOS, Windows, and WSL, whose
//! Windows browser comes through a relay), the first client to ask gets it: the window is the
//! seconds between starting the browser and its request, and a thief who wins it leaves the
//! browser a 404, which the person sees. Once followed, or once its wait is over, the link
//! leads nowhere.

use crate::context::Context;
use crate::settings::UrlAction;
use crate::sso::browser::{Delivered, check_openable, open_url, running_on_wsl};
use crate::util::loopback_http::{LoopbackServer, Peer, PeerOwner, Response, answer};
use crate::util::secret::Secret;
use http::header::{HeaderValue, LOCATION, REFERRER_POLICY};
use http::request::Parts;
use http::{Method, StatusCode};
use rand::RngCore;
use std::time::Duration;

/// How long a link a browser was started with waits for the browser: a browser that is not
/// running yet takes some seconds to start.
pub const OPENED_LINK_WAIT: Duration = Duration::from_secs(60);
/// How long a link put on the clipboard waits: a person has to paste it into a browser.
pub const COPIED_LINK_WAIT: Duration = Duration::from_secs(120);

/// Who a one-time link is answered to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admits {
    /// Only a client whose socket belongs to the user this process runs as.
    SameUser,
    /// The first client to ask: where no socket table says who a client is.
    FirstToAsk,
}

impl Admits {
    /// The rule this machine allows: [`Admits::SameUser`] on Linux but under WSL (whose
    /// Windows browser connects through a relay no socket table names), else
    /// [`Admits::FirstToAsk`].
    pub fn here(ctx: &Context) -> Self {
        if cfg!(target_os = "linux") && !running_on_wsl(ctx) {
            Self::SameUser
        } else {
            Self::FirstToAsk
        }
    }

    /// Whether a client of this owner may follow the link.
    pub fn allows(self, owner: PeerOwner) -> bool {
        match self {
            Self::SameUser => owner == PeerOwner::SameUser,
            Self::FirstToAsk => true,
        }
    }
}

/// A link on 127.0.0.1 that redirects once to a secret URL.
pub struct OneTimeLink {
    server: LoopbackServer,
    path: String,
    location: HeaderValue,
    admits: Admits,
    wait: Duration,
}

/// Nobody followed a one-time link within its wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("nothing followed the one-time link within {} seconds", .0.as_secs())]
pub struct NotFollowed(pub Duration);

impl OneTimeLink {
    /// Listens on 127.0.0.1 for a link to `target` that `admits` may follow within `wait`.
    pub async fn bind(target: &Secret, admits: Admits, wait: Duration) -> std::io::Result<Self> {
        let location = HeaderValue::from_str(target.expose()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the URL holds characters a redirect cannot carry",
            )
        })?;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Ok(Self {
            server: LoopbackServer::bind(0).await?,
            path: format!("/{}", hex::encode(bytes)),
            location,
            admits,
            wait,
        })
    }

    /// `http://127.0.0.1:PORT/` and the random path: what the browser or clipboard gets.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.server.port(), self.path)
    }

    /// How long the link waits to be followed.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// Serves the link until a client it admits has been sent on (then it stops listening), or
    /// its wait is over.
    pub async fn followed(self) -> Result<(), NotFollowed> {
        let Self {
            server,
            path,
            location,
            admits,
            wait,
        } = self;
        let handler = move |head: Parts, peer: Peer| {
            std::future::ready(answer_link(&head, &path, &location, || {
                admits.allows(peer.owner())
            }))
        };
        tokio::time::timeout(wait, server.serve(handler))
            .await
            .map_err(|_| NotFollowed(wait))
    }
}

/// The answer to a request for a one-time link at `path` that redirects to `location`, and
/// whether it was the one that follows it: a `GET` of the path from a client `admitted` lets
/// through. Other paths get 404, other methods 405, other clients 403; none of them ends it.
pub fn answer_link(
    head: &Parts,
    path: &str,
    location: &HeaderValue,
    admitted: impl FnOnce() -> bool,
) -> (Response, Option<()>) {
    let text = |status, body: &str| answer(status, "text/plain; charset=utf-8", body.to_owned());
    if head.uri.path() != path {
        return (text(StatusCode::NOT_FOUND, "Nothing here.\n"), None);
    }
    if head.method != Method::GET {
        return (
            text(StatusCode::METHOD_NOT_ALLOWED, "Only GET is answered.\n"),
            None,
        );
    }
    if !admitted() {
        return (
            text(
                StatusCode::FORBIDDEN,
                "This link opens only for the user who asked for it.\n",
            ),
            None,
        );
    }
    let mut redirect = text(StatusCode::SEE_OTHER, "Opening...\n");
    let headers = redirect.headers_mut();
    headers.insert(LOCATION, location.clone());
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    (redirect, Some(()))
}

/// What became of a secret URL.
pub enum SecretDelivery {
    /// `url_action = "print"`: nothing was done; the caller shows the URL where a secret may
    /// go (stdout), or says why it cannot.
    Print,
    /// A browser was started with a one-time link to it.
    Opened {
        /// The program started.
        program: String,
        /// The link, to wait on with [`OneTimeLink::followed`].
        link: OneTimeLink,
    },
    /// A one-time link to it is on the clipboard.
    Copied {
        /// The program that put it there.
        program: String,
        /// The link, to wait on with [`OneTimeLink::followed`].
        link: OneTimeLink,
    },
}

/// Does with the secret `url` what the settings say for `session` (as
/// [`open_url`] does with any URL), through a [`OneTimeLink`] whenever it leaves the process:
/// the browser or the clipboard gets the link, never the URL. The caller waits on the link
/// (the link serves only while it is waited on). The error is one line and never quotes the
/// URL.
pub async fn open_secret_url(
    ctx: &Context,
    session: Option<&str>,
    url: &Secret,
) -> Result<SecretDelivery, String> {
    let hidden = |why: String| why.replace(url.expose(), "the URL");
    check_openable(url.expose()).map_err(hidden)?;
    let wait = match ctx
        .settings
        .browser_for(session)
        .url_action
        .unwrap_or_default()
    {
        UrlAction::Print => return Ok(SecretDelivery::Print),
        UrlAction::Copy => COPIED_LINK_WAIT,
        UrlAction::Open => OPENED_LINK_WAIT,
    };
    let link = OneTimeLink::bind(url, Admits::here(ctx), wait)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1 for the browser: {e}"))?;
    Ok(match open_url(ctx, session, &link.url()).map_err(hidden)? {
        Delivered::Opened(program) => SecretDelivery::Opened { program, link },
        Delivered::Copied(program) => SecretDelivery::Copied { program, link },
        Delivered::Printed => SecretDelivery::Print,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn head(method: &str, target: &str) -> Parts {
        http::Request::builder()
            .method(method)
            .uri(target)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn only_a_get_of_the_path_by_an_admitted_client_is_sent_on() {
        let location = HeaderValue::from_static("https://example.com/x?SigninToken=t");
        let (sent, followed) = answer_link(&head("GET", "/abc"), "/abc", &location, || true);
        assert_eq!(sent.status(), StatusCode::SEE_OTHER);
        assert_eq!(followed, Some(()));
        let headers = sent.headers();
        assert_eq!(headers["location"], location);
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(!sent.body().contains("SigninToken"));

        for (method, target, admitted, status) in [
            ("GET", "/abc", false, 403),
            ("GET", "/abd", true, 404),
            ("GET", "/", true, 404),
            ("POST", "/abc", true, 405),
        ] {
            let (refused, followed) =
                answer_link(&head(method, target), "/abc", &location, || admitted);
            assert_eq!(refused.status().as_u16(), status, "{method} {target}");
            assert_eq!(followed, None);
            assert!(refused.headers().get("location").is_none());
        }
    }

    #[test]
    fn only_the_same_user_is_admitted_where_a_socket_table_says_who_it_is() {
        assert!(Admits::SameUser.allows(PeerOwner::SameUser));
        assert!(!Admits::SameUser.allows(PeerOwner::OtherUser(65534)));
        assert!(!Admits::SameUser.allows(PeerOwner::Unknown));
        assert!(Admits::FirstToAsk.allows(PeerOwner::Unknown));
        let home = tempfile::tempdir().unwrap();
        let mut env = Env::from_pairs([("HOME", home.path().to_str().unwrap())]);
        let mut ctx = Context::from_env(env.clone()).unwrap();
        ctx.paths.kernel_release = home.path().join("osrelease");
        std::fs::write(&ctx.paths.kernel_release, "6.8.0-45-generic\n").unwrap();
        #[cfg(target_os = "linux")]
        assert_eq!(Admits::here(&ctx), Admits::SameUser);
        env.set("WSL_DISTRO_NAME", "Debian");
        ctx.env = env;
        assert_eq!(Admits::here(&ctx), Admits::FirstToAsk);
    }

    async fn get(url: &str) -> String {
        let rest = url.strip_prefix("http://").unwrap();
        let (address, path) = rest.split_at(rest.find('/').unwrap());
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn a_link_redirects_once_and_then_leads_nowhere() {
        let target = Secret::new("https://example.com/federation?SigninToken=t0k");
        let link = OneTimeLink::bind(&target, Admits::SameUser, Duration::from_secs(20))
            .await
            .unwrap();
        let url = link.url();
        let path = url.rsplit('/').next().unwrap();
        assert_eq!(path.len(), 64);
        assert!(path.bytes().all(|b| b.is_ascii_hexdigit()));
        let waiting = tokio::spawn(link.followed());
        let sent = get(&url).await;
        assert!(sent.starts_with("HTTP/1.1 303 See Other\r\n"), "{sent}");
        assert!(
            sent.contains("\r\nlocation: https://example.com/federation?SigninToken=t0k\r\n"),
            "{sent}"
        );
        assert_eq!(waiting.await.unwrap(), Ok(()));
        let address = url
            .strip_prefix("http://")
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        assert!(tokio::net::TcpStream::connect(address).await.is_err());
    }

    #[tokio::test]
    async fn a_link_nobody_follows_ends_after_its_wait() {
        let target = Secret::new("https://example.com/");
        let link = OneTimeLink::bind(&target, Admits::SameUser, Duration::from_millis(300))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let ended = link.followed().await;
        assert_eq!(ended, Err(NotFollowed(Duration::from_millis(300))));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            OneTimeLink::bind(
                &Secret::new("https://x/\n"),
                Admits::SameUser,
                Duration::ZERO
            )
            .await
            .is_err()
        );
    }
}
