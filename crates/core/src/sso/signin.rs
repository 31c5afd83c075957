//! Signing in to a session (PKCE in the browser, or the device code), refreshing it without a
//! browser, and signing out, with one flight per session across every process.
//!
//! Each operation takes the session's lock first and reads the token store again once it has
//! it: ten `ssobar login` runs for one expired session wait for the first to sign in, then use
//! its token, so there is one browser tab and one authorization, not ten.

use crate::aws::CallError;
use crate::aws::endpoints::check_start_url;
use crate::aws::oidc::{DeviceAuthorization, Grant, OidcClient, TokenGrant};
use crate::aws::portal::PortalClient;
use crate::config::{AwsConfig, SessionId, SsoSessionConfig};
/// Kept here too for callers that know them as sign-in commands.
use crate::context::Context;
use crate::creds::Vault;
use crate::settings::SignInFlowKind;
use crate::sso::browser;
use crate::sso::pkce::{self, Callback, CallbackListener};
use crate::sso::token_cache::{CachedToken, ClientRegistration, SsoToken, registration_cache_key};
use crate::util::lock::{KeyLock, LockError, LockRequest};
use crate::util::text::printable;
use crate::util::time::{add_seconds, spoken_duration};
use jiff::Timestamp;
use std::time::Duration;

/// The scope that makes a session refreshable; what the AWS CLI registers by default.
pub const DEFAULT_SCOPE: &str = "sso:account:access";
/// The PKCE redirect URI registered with the client (the port is added per sign-in).
pub const REGISTERED_REDIRECT_URI: &str = "http://127.0.0.1/oauth/callback";
/// A cached client registration is reused only if it lives at least this much longer.
const REGISTRATION_MARGIN_SECS: i64 = 15 * 60;
/// How long a sign-in may take before it is abandoned.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// RFC 8628: a `slow_down` answer adds five seconds to the polling interval.
const SLOW_DOWN_STEP: i64 = 5;

/// How the person proves who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInFlow {
    /// Authorization code with PKCE: the browser comes back to a loopback port.
    Browser,
    /// Device authorization: confirm a code on any device.
    DeviceCode,
}

/// Choices for one sign-in.
#[derive(Clone, Debug)]
pub struct SignInOptions {
    /// Force a flow; `None` lets [`choose_flow`] decide.
    pub flow: Option<SignInFlow>,
    /// Open the browser (else only report the URL).
    pub open_browser: bool,
    /// Sign in even if the cached token is still valid.
    pub force: bool,
    /// Give up after this long.
    pub timeout: Duration,
    /// The port a browser sign-in listens on; `None`: the settings' `callback_port`.
    pub callback_port: Option<u16>,
}

impl Default for SignInOptions {
    fn default() -> Self {
        Self {
            flow: None,
            open_browser: true,
            force: false,
            timeout: DEFAULT_TIMEOUT,
            callback_port: None,
        }
    }
}

/// Progress a person should see while signing in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInEvent {
    /// Another process is signing in to this session; waiting for it.
    WaitingForOtherSignIn,
    /// The URL to open; `opened` says what was done with it as the settings ask (a browser
    /// started, left to be shown, copied), or why nothing could be.
    OpenUrl {
        /// The URL.
        url: String,
        /// What was done with it, or why nothing was.
        opened: Result<browser::Delivered, String>,
    },
    /// No redirect has reached the loopback listener within `no_redirect_hint_seconds` of a
    /// browser sign-in: a browser outside WSL or on another machine cannot reach it. Sent
    /// once; the sign-in goes on waiting.
    NoRedirectYet {
        /// The listener's address, `127.0.0.1:PORT`.
        listener: String,
        /// The command that signs in with the device code instead.
        device_code_command: String,
    },
    /// The sign-in uses the device code though nobody asked for it, for this reason.
    DeviceCodeChosen(DeviceCodeReason),
    /// The device code to confirm.
    DeviceCode {
        /// The short code the person confirms (e.g. `QVKR-UYGK`).
        user_code: String,
        /// Where to confirm it.
        verification_uri: String,
        /// The same page with the code filled in.
        verification_uri_complete: Option<String>,
    },
    /// Waiting for the browser (PKCE) or for the confirmation (device code).
    Waiting,
}

/// How a sign-in ended well.
#[derive(Clone, Debug, PartialEq)]
pub enum SignInOutcome {
    /// The cached token was still valid; nothing was done.
    AlreadySignedIn(SsoToken),
    /// This process signed in.
    SignedIn(SsoToken),
    /// Another process signed in while this one waited; its token is used.
    SignedInElsewhere(SsoToken),
}

impl SignInOutcome {
    /// The token now in the store.
    pub fn token(&self) -> &SsoToken {
        match self {
            Self::AlreadySignedIn(t) | Self::SignedIn(t) | Self::SignedInElsewhere(t) => t,
        }
    }
}

/// How a refresh ended well.
#[derive(Clone, Debug, PartialEq)]
pub enum RefreshOutcome {
    /// A new access token was obtained and stored.
    Refreshed(SsoToken),
    /// The token is outside the refresh window; nothing was done.
    NotNeeded(SsoToken),
}

/// What sign-out did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignOutOutcome {
    /// A token was deleted.
    pub removed: bool,
    /// Keychain entries of role credentials deleted.
    pub credentials_removed: usize,
    /// The portal's Logout failed (the local token is gone anyway); why.
    pub portal_error: Option<String>,
    /// The keychain could not be cleaned (the token is gone anyway); why.
    pub keychain_error: Option<String>,
}

/// Why a sign-in, refresh or sign-out failed; each message is one line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The start URL is not https.
    #[error("{0}")]
    InsecureStartUrl(String),
    /// The person (or an administrator) refused.
    #[error("sign-in to {session} was denied in the browser; run \"{command}\" to try again")]
    Denied {
        /// The session's name, as the message shows it.
        session: String,
        /// The command to run.
        command: String,
    },
    /// The device code expired before it was confirmed.
    #[error(
        "the sign-in code for {session} expired before it was confirmed; run \"{command}\" again"
    )]
    CodeExpired {
        /// The session's name, as the message shows it.
        session: String,
        /// The command to run.
        command: String,
    },
    /// The service sent a page to confirm the sign-in on that no browser may be given.
    #[error(
        "{why}; the sign-in service sent it (check AWS_ENDPOINT_URL_SSO_OIDC and sso_region), then run \"{command}\" again"
    )]
    UnsafePage {
        /// What is wrong with the page, naming it.
        why: String,
        /// The command to run.
        command: String,
    },
    /// The service refused the code exchange (a wrong verifier, a reused code).
    #[error("the sign-in could not be completed: {detail}; run \"{command}\" again")]
    Rejected {
        /// What the service said.
        detail: String,
        /// The command to run.
        command: String,
    },
    /// Nothing came back in time.
    #[error("{waited} within {after}; run \"{command}\" again{hint}")]
    TimedOut {
        /// What did not happen: the browser's answer, or the code's confirmation.
        waited: &'static str,
        /// The timeout, in words.
        after: String,
        /// The command to run.
        command: String,
        /// The other way in, when there is one.
        hint: &'static str,
    },
    /// A refresh is impossible or was refused: a browser sign-in is needed.
    #[error("sign-in needed for {session}: {reason}; run \"{command}\"")]
    SignInNeeded {
        /// The session's name, as the message shows it.
        session: String,
        /// Why refreshing did not work.
        reason: String,
        /// The command to run.
        command: String,
    },
    /// An AWS call failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Another process held the session for the whole wait, or its lock could not be used.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The token cache could not be written (a full disk, a read-only folder); whatever was
    /// there is left as it was.
    #[error("{0}; free space there or make the folder writable")]
    CannotWrite(String),
    /// The token store could not be used.
    #[error("{0}")]
    Local(String),
}

impl SignInError {
    /// Whether running the same command again may well work: after a passing network or
    /// service failure (see [`CallError::is_transient`]), or once the cache can be written.
    pub fn worth_running_again(&self) -> bool {
        match self {
            Self::Call(e) => e.is_transient(),
            Self::CannotWrite(_) => true,
            Self::Lock(e) => e.worth_running_again(),
            _ => false,
        }
    }
}

/// The flow to use: the one asked for; else device code for legacy sessions (they cannot do
/// PKCE) and where no browser can be opened; else the setting.
pub fn choose_flow(
    ctx: &Context,
    session: &SsoSessionConfig,
    asked: Option<SignInFlow>,
) -> SignInFlow {
    if let Some(flow) = asked {
        return flow;
    }
    if device_code_reason(ctx, session).is_some() {
        return SignInFlow::DeviceCode;
    }
    match ctx.settings.sign_in_flow {
        SignInFlowKind::Browser => SignInFlow::Browser,
        SignInFlowKind::DeviceCode => SignInFlow::DeviceCode,
    }
}

/// Why a session signs in with the device code whatever the settings say, when nothing asks
/// for a flow: what [`choose_flow`] decides by, and what a person is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceCodeReason {
    /// The session is written the legacy way (`sso_start_url` on the profile): it has no
    /// browser sign-in and no refresh.
    LegacySession,
    /// No browser can be opened here: no display, no `$BROWSER`, no `browser` setting (an SSH
    /// shell, a container).
    NoBrowser,
}

/// The reason `session` must use the device code here, if one holds.
pub fn device_code_reason(ctx: &Context, session: &SsoSessionConfig) -> Option<DeviceCodeReason> {
    if matches!(session.id, SessionId::Legacy(_)) {
        Some(DeviceCodeReason::LegacySession)
    } else if !browser::can_open_browser(ctx, session.id.session_name()) {
        Some(DeviceCodeReason::NoBrowser)
    } else {
        None
    }
}

/// The session's lock: the one guarding its token file in the AWS CLI cache, whichever store
/// keeps the token, so that every process finds it from the session alone.
fn lock_path(ctx: &Context, id: &SessionId) -> std::path::PathBuf {
    KeyLock::guarding(&ctx.registrations.token_path(id))
}

/// Takes the session's lock, waiting at most `wait` for whoever holds it.
async fn lock_session(
    ctx: &Context,
    id: &SessionId,
    wait: Duration,
    on_wait: impl FnOnce(),
) -> Result<KeyLock, SignInError> {
    let path = lock_path(ctx, id);
    let what = format!("the session {id}");
    let request = LockRequest {
        path: &path,
        what: &what,
        wait,
    };
    Ok(KeyLock::acquire(&request, on_wait).await?)
}

fn present(token: CachedToken) -> Option<SsoToken> {
    match token {
        CachedToken::Present(t) => Some(t),
        _ => None,
    }
}

/// Signs in to `session` unless its token is still valid (or `force`).
pub async fn sign_in(
    ctx: &Context,
    session: &SsoSessionConfig,
    options: &SignInOptions,
    command: &str,
    on_event: &(dyn Fn(SignInEvent) + Send + Sync),
) -> Result<SignInOutcome, SignInError> {
    check_start_url(&session.start_url).map_err(SignInError::InsecureStartUrl)?;
    let before = present(ctx.tokens.load(&session.id));
    if !options.force
        && let Some(token) = &before
        && token.expires_at > ctx.now()
    {
        return Ok(SignInOutcome::AlreadySignedIn(token.clone()));
    }

    let flow = choose_flow(ctx, session, options.flow);
    // Only a device code nobody asked for has a reason to give (the browser lookup it takes
    // is then made a second time, on the path that is about to wait for a person anyway).
    if options.flow.is_none()
        && flow == SignInFlow::DeviceCode
        && let Some(reason) = device_code_reason(ctx, session)
    {
        on_event(SignInEvent::DeviceCodeChosen(reason));
    }
    // Another sign-in may take as long as this one could, so that is how long to wait for it.
    let _lock = lock_session(ctx, &session.id, options.timeout, || {
        on_event(SignInEvent::WaitingForOtherSignIn)
    })
    .await?;
    let run = async {
        // Whoever held the lock may have just signed in: a token that is valid and is not the
        // one seen before waiting is theirs, and it answers this request too.
        if let Some(token) = present(ctx.tokens.load(&session.id))
            && token.expires_at > ctx.now()
            && (!options.force || before.as_ref() != Some(&token))
        {
            return Ok(SignInOutcome::SignedInElsewhere(token));
        }
        let oidc = OidcClient::new(&ctx.env, &session.region)?;
        let registration = registration(ctx, &oidc, session, flow).await?;
        let started = ctx.now();
        let attempt = Attempt {
            ctx,
            oidc: &oidc,
            session,
            registration: &registration,
            options,
            command,
            on_event,
        };
        let grant = match flow {
            SignInFlow::Browser => browser_flow(&attempt).await?,
            SignInFlow::DeviceCode => device_flow(&attempt).await?,
        };
        let token = token_from_grant(session, &registration, grant, started);
        ctx.tokens
            .store(&session.id, &token)
            .map_err(|e| SignInError::CannotWrite(e.to_string()))?;
        Ok(SignInOutcome::SignedIn(token))
    };
    tokio::time::timeout(options.timeout, run)
        .await
        .unwrap_or_else(|_| {
            let (waited, hint) = match flow {
                SignInFlow::Browser => (
                    "no answer from the browser",
                    " (add --device-code to sign in from another device)",
                ),
                SignInFlow::DeviceCode => ("the code was not confirmed", ""),
            };
            Err(SignInError::TimedOut {
                waited,
                after: spoken_duration(options.timeout),
                command: command.to_owned(),
                hint,
            })
        })
}

fn token_from_grant(
    session: &SsoSessionConfig,
    registration: &ClientRegistration,
    grant: TokenGrant,
    issued_at: Timestamp,
) -> SsoToken {
    SsoToken {
        start_url: Some(session.start_url.clone()),
        region: Some(session.region.clone()),
        access_token: grant.access_token,
        expires_at: add_seconds(issued_at, grant.expires_in),
        client_id: Some(registration.client_id.clone()),
        client_secret: Some(registration.client_secret.clone()),
        registration_expires_at: Some(registration.expires_at),
        refresh_token: grant.refresh_token,
        extra: Default::default(),
    }
}

/// The scopes to register with: the session's, or the default for sso-sessions.
fn request_scopes(session: &SsoSessionConfig) -> Option<Vec<String>> {
    match (&session.registration_scopes, &session.id) {
        (Some(scopes), _) if !scopes.is_empty() => Some(scopes.clone()),
        (_, SessionId::Named(_)) => Some(vec![DEFAULT_SCOPE.to_owned()]),
        (_, SessionId::Legacy(_)) => None,
    }
}

/// Reuses the cached client registration when it suits this flow and lives 15 more minutes;
/// else registers a new client and caches it where the AWS CLI would.
async fn registration(
    ctx: &Context,
    oidc: &OidcClient,
    session: &SsoSessionConfig,
    flow: SignInFlow,
) -> Result<ClientRegistration, SignInError> {
    let key = registration_cache_key(
        &session.start_url,
        &session.region,
        session.registration_scopes.as_deref(),
        session.id.session_name(),
    );
    let wants_code_grant = flow == SignInFlow::Browser;
    let now = ctx.now();
    if let Some(cached) = ctx.registrations.load_registration(&key) {
        let has_code_grant = cached.grant_types.as_ref().is_some_and(|g| {
            g.iter()
                .any(|t| t == crate::aws::oidc::GRANT_AUTHORIZATION_CODE)
        });
        if cached.expires_at > add_seconds(now, REGISTRATION_MARGIN_SECS)
            && has_code_grant == wants_code_grant
        {
            return Ok(cached);
        }
    }
    let scopes = request_scopes(session);
    let client_name = format!("ssobar-{}", session.id.session_name().unwrap_or("legacy"));
    let pkce = wants_code_grant.then_some((REGISTERED_REDIRECT_URI, session.start_url.as_str()));
    let client = oidc
        .register_client(&client_name, scopes.as_deref(), pkce)
        .await?;
    let registration = ClientRegistration {
        client_id: client.client_id,
        client_secret: client.client_secret,
        expires_at: Timestamp::from_second(client.expires_at).unwrap_or(now),
        scopes,
        grant_types: wants_code_grant.then(|| {
            vec![
                crate::aws::oidc::GRANT_AUTHORIZATION_CODE.to_owned(),
                crate::aws::oidc::GRANT_REFRESH_TOKEN.to_owned(),
            ]
        }),
        extra: Default::default(),
    };
    ctx.registrations
        .store_registration(&key, &registration)
        .map_err(|e| {
            SignInError::CannotWrite(format!(
                "cannot write {}: {e}",
                ctx.registrations.registration_path(&key).display()
            ))
        })?;
    Ok(registration)
}

/// One sign-in attempt's fixed parts, shared by both flows.
#[derive(Clone, Copy)]
struct Attempt<'a> {
    ctx: &'a Context,
    oidc: &'a OidcClient,
    session: &'a SsoSessionConfig,
    registration: &'a ClientRegistration,
    options: &'a SignInOptions,
    command: &'a str,
    on_event: &'a (dyn Fn(SignInEvent) + Send + Sync),
}

fn announce_url(
    ctx: &Context,
    session: &SsoSessionConfig,
    url: &str,
    open: bool,
    on_event: &(dyn Fn(SignInEvent) + Send + Sync),
) {
    let opened = if open {
        browser::open_url(ctx, session.id.session_name(), url)
    } else {
        Err("--no-browser".to_owned())
    };
    on_event(SignInEvent::OpenUrl {
        url: url.to_owned(),
        opened,
    });
}

async fn browser_flow(attempt: &Attempt<'_>) -> Result<TokenGrant, SignInError> {
    let Attempt {
        ctx,
        oidc,
        session,
        registration,
        options,
        command,
        on_event,
    } = *attempt;
    let port = options.callback_port.unwrap_or(ctx.settings.callback_port);
    let listener = CallbackListener::bind(port).await.map_err(|e| {
        SignInError::Local(if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "port {port} on 127.0.0.1, where the browser would come back, is taken by another program; close it, or choose another port with --callback-port or callback_port in settings.toml"
            )
        } else {
            format!("cannot listen on 127.0.0.1 for the browser: {e}")
        })
    })?;
    let redirect_uri = listener.redirect_uri();
    let address = listener.address();
    let verifier = pkce::random_unreserved(64);
    let state = pkce::random_unreserved(32);
    let scopes = request_scopes(session).unwrap_or_default();
    let url = pkce::authorize_url(
        oidc.endpoint(),
        &registration.client_id,
        &redirect_uri,
        &state,
        &pkce::challenge(&verifier),
        &scopes,
    );
    announce_url(ctx, session, &url, options.open_browser, on_event);
    on_event(SignInEvent::Waiting);
    // Redirects that do not answer this sign-in (another sign-in's, a stray request's) get a
    // page saying so and the listener waits on.
    let callback = {
        let wait = listener.wait(&state);
        tokio::pin!(wait);
        match ctx.settings.no_redirect_hint() {
            Some(hint_after) => {
                tokio::select! {
                    callback = &mut wait => callback,
                    () = tokio::time::sleep(hint_after) => {
                        on_event(SignInEvent::NoRedirectYet {
                            listener: address,
                            device_code_command: format!(
                                "{} --device-code",
                                crate::config::login_command(session, None)
                            ),
                        });
                        wait.await
                    }
                }
            }
            None => wait.await,
        }
    };
    let code = match callback {
        Callback::Code { code, .. } => code,
        Callback::Error {
            error, description, ..
        } => {
            return Err(if error == "access_denied" {
                SignInError::Denied {
                    session: session.id.to_string(),
                    command: command.to_owned(),
                }
            } else {
                SignInError::Rejected {
                    detail: description.unwrap_or(error),
                    command: command.to_owned(),
                }
            });
        }
    };
    oidc.create_token(
        &registration.client_id,
        &registration.client_secret,
        Grant::AuthorizationCode {
            code: &code,
            redirect_uri: &redirect_uri,
            code_verifier: &verifier,
        },
    )
    .await
    .map_err(|e| match e.code() {
        Some("InvalidGrantException" | "InvalidRequestException") => SignInError::Rejected {
            detail: e.to_string(),
            command: command.to_owned(),
        },
        Some("AccessDeniedException") => SignInError::Denied {
            session: session.id.to_string(),
            command: command.to_owned(),
        },
        _ => SignInError::Call(e),
    })
}

async fn device_flow(attempt: &Attempt<'_>) -> Result<TokenGrant, SignInError> {
    let Attempt {
        ctx,
        oidc,
        session,
        registration,
        options,
        command,
        on_event,
    } = *attempt;
    let DeviceAuthorization {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in,
        interval,
    } = oidc
        .start_device_authorization(
            &registration.client_id,
            &registration.client_secret,
            &session.start_url,
        )
        .await?;
    // The service chose these pages: a person is sent to them only if they pass the rule
    // for URLs a browser is given.
    for url in std::iter::once(&verification_uri).chain(&verification_uri_complete) {
        browser::check_openable(url).map_err(|why| SignInError::UnsafePage {
            why,
            command: command.to_owned(),
        })?;
    }
    on_event(SignInEvent::DeviceCode {
        user_code: printable(&user_code),
        verification_uri: verification_uri.clone(),
        verification_uri_complete: verification_uri_complete.clone(),
    });
    let url = verification_uri_complete.unwrap_or(verification_uri);
    announce_url(ctx, session, &url, options.open_browser, on_event);
    on_event(SignInEvent::Waiting);

    let expired = || SignInError::CodeExpired {
        session: session.id.to_string(),
        command: command.to_owned(),
    };
    let deadline = add_seconds(ctx.now(), expires_in.max(1));
    let mut schedule = PollSchedule::new(interval);
    loop {
        tokio::time::sleep(schedule.wait()).await;
        if ctx.now() > deadline {
            return Err(expired());
        }
        let answer = oidc
            .create_token(
                &registration.client_id,
                &registration.client_secret,
                Grant::DeviceCode(&device_code),
            )
            .await;
        match answer {
            Ok(grant) => return Ok(grant),
            Err(e) => match e.code() {
                Some("AuthorizationPendingException") => {}
                Some("SlowDownException") => schedule.slow_down(),
                Some("ExpiredTokenException") => return Err(expired()),
                Some("AccessDeniedException") => {
                    return Err(SignInError::Denied {
                        session: session.id.to_string(),
                        command: command.to_owned(),
                    });
                }
                Some("InvalidGrantException") => {
                    return Err(SignInError::Rejected {
                        detail: e.to_string(),
                        command: command.to_owned(),
                    });
                }
                _ => return Err(SignInError::Call(e)),
            },
        }
    }
}

/// The device flow's polling interval: the service's, plus five seconds per `slow_down`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollSchedule {
    interval: i64,
}

impl PollSchedule {
    /// Starts at the service's `interval` (5 s if it gave none).
    pub fn new(interval: i64) -> Self {
        Self {
            interval: if interval > 0 { interval } else { 5 },
        }
    }

    /// How long to wait before the next poll.
    pub fn wait(&self) -> Duration {
        Duration::from_secs(self.interval.unsigned_abs())
    }

    /// The service said `slow_down`.
    pub fn slow_down(&mut self) {
        self.interval += SLOW_DOWN_STEP;
    }
}

/// When a refresh goes ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshWhen {
    /// Only inside the refresh window: the silent refresh, and `ssobar` before asking for a
    /// sign-in.
    Due,
    /// Now, however much time is left: a person asked for it.
    Now,
}

/// Refreshes `session` with its refresh token when `when` says so. A refusal leaves the old token in place and says a sign-in is needed; there is
/// no retry loop beyond the SDK's own for transient errors.
pub async fn refresh(
    ctx: &Context,
    session: &SsoSessionConfig,
    when: RefreshWhen,
    command: &str,
) -> Result<RefreshOutcome, SignInError> {
    let needed = |reason: &str| SignInError::SignInNeeded {
        session: session.id.to_string(),
        reason: reason.to_owned(),
        command: command.to_owned(),
    };
    let window = i64::from(ctx.settings.refresh_minutes) * 60;
    let due = |token: &SsoToken, now: Timestamp| {
        when == RefreshWhen::Now || token.expires_at <= add_seconds(now, window)
    };
    let cached = ctx.tokens.load(&session.id);
    if let CachedToken::Present(token) = &cached
        && !due(token, ctx.now())
    {
        return Ok(RefreshOutcome::NotNeeded(token.clone()));
    }
    let _lock = lock_session(ctx, &session.id, ctx.settings.lock_wait(), || {}).await?;
    let now = ctx.now();
    let token = match ctx.tokens.load(&session.id) {
        CachedToken::Present(token) => token,
        CachedToken::Missing => return Err(needed("not signed in")),
        CachedToken::Invalid { reason, .. } => return Err(needed(&reason)),
    };
    // Someone else may have refreshed while this one waited for the lock.
    if let CachedToken::Present(before) = &cached
        && before.access_token != token.access_token
        && token.expires_at > now
    {
        return Ok(RefreshOutcome::Refreshed(token));
    }
    if !due(&token, now) {
        return Ok(RefreshOutcome::NotNeeded(token));
    }
    let (Some(refresh_token), Some(client_id), Some(client_secret)) =
        (&token.refresh_token, &token.client_id, &token.client_secret)
    else {
        return Err(needed(
            "this session cannot be refreshed (no refresh token)",
        ));
    };
    if token.registration_expires_at.is_none_or(|at| at <= now) {
        return Err(needed("its client registration has expired"));
    }
    let oidc = OidcClient::new(&ctx.env, &session.region)?;
    let grant = oidc
        .create_token(client_id, client_secret, Grant::RefreshToken(refresh_token))
        .await
        .map_err(|e| match e.code() {
            Some(
                "InvalidGrantException"
                | "InvalidClientException"
                | "UnauthorizedClientException"
                | "ExpiredTokenException"
                | "AccessDeniedException",
            ) => needed("the refresh was refused (signed out, or the session ended)"),
            _ => SignInError::Call(e),
        })?;
    let refreshed = SsoToken {
        access_token: grant.access_token,
        expires_at: add_seconds(now, grant.expires_in),
        refresh_token: grant.refresh_token.or_else(|| token.refresh_token.clone()),
        ..token
    };
    ctx.tokens
        .store(&session.id, &refreshed)
        .map_err(|e| SignInError::CannotWrite(e.to_string()))?;
    Ok(RefreshOutcome::Refreshed(refreshed))
}

/// Signs out of `session`: ends it at the portal (best effort), deletes the token, and deletes
/// the stored role credentials of every profile in `config` that signs in through it.
pub async fn sign_out(
    ctx: &Context,
    config: &AwsConfig,
    session: &SsoSessionConfig,
) -> Result<SignOutOutcome, SignInError> {
    let _lock = lock_session(ctx, &session.id, ctx.settings.lock_wait(), || {}).await?;
    let mut portal_error = None;
    if let CachedToken::Present(token) = ctx.tokens.load(&session.id)
        && token.expires_at > ctx.now()
    {
        let logout = async {
            PortalClient::new(&ctx.env, &session.region)?
                .logout(&token.access_token)
                .await
        };
        if let Err(e) = logout.await
            && e.code() != Some("UnauthorizedException")
        {
            portal_error = Some(e.to_string());
        }
    }
    let removed = ctx
        .tokens
        .remove(&session.id)
        .map_err(|e| SignInError::Local(e.to_string()))?;
    let (credentials_removed, keychain_error) =
        match Vault::new(ctx).forget_session(config, &session.id) {
            Ok(n) => (n, None),
            Err(e) => (0, Some(e.to_string())),
        };
    Ok(SignOutOutcome {
        removed,
        credentials_removed,
        portal_error,
        keychain_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_down_adds_five_seconds_each_time() {
        let mut s = PollSchedule::new(1);
        assert_eq!(s.wait(), Duration::from_secs(1));
        s.slow_down();
        assert_eq!(s.wait(), Duration::from_secs(6));
        s.slow_down();
        assert_eq!(s.wait(), Duration::from_secs(11));
        assert_eq!(PollSchedule::new(0).wait(), Duration::from_secs(5));
    }

    #[test]
    fn scopes_default_only_for_sso_sessions() {
        let mut s = SsoSessionConfig {
            id: SessionId::Named("corp".into()),
            start_url: "https://x/start".into(),
            region: "us-east-1".into(),
            registration_scopes: None,
        };
        assert_eq!(request_scopes(&s), Some(vec![DEFAULT_SCOPE.to_owned()]));
        s.registration_scopes = Some(vec!["a".into(), "b".into()]);
        assert_eq!(request_scopes(&s), Some(vec!["a".into(), "b".into()]));
        s.id = SessionId::Legacy("https://x/start".into());
        s.registration_scopes = None;
        assert_eq!(request_scopes(&s), None);
    }

    #[test]
    fn the_device_code_where_no_browser_can_open_or_pkce_cannot_work() {
        let ctx = |pairs: &[(&str, &str)]| {
            let mut vars = vec![("HOME", "/nonexistent-home")];
            vars.extend_from_slice(pairs);
            let mut ctx =
                Context::from_env(crate::env::Env::from_pairs(vars.iter().copied())).unwrap();
            // Not WSL, wherever the test runs: WSL would always have Windows' openers.
            ctx.paths.kernel_release = "/nonexistent/osrelease".into();
            ctx
        };
        let named = SsoSessionConfig {
            id: SessionId::Named("corp".into()),
            start_url: "https://x/start".into(),
            region: "us-east-1".into(),
            registration_scopes: None,
        };
        let legacy = SsoSessionConfig {
            id: SessionId::Legacy("https://x/start".into()),
            ..named.clone()
        };
        let desktop = ctx(&[("DISPLAY", ":0")]);
        assert_eq!(choose_flow(&desktop, &named, None), SignInFlow::Browser);
        assert_eq!(
            choose_flow(&ctx(&[("BROWSER", "firefox")]), &named, None),
            SignInFlow::Browser
        );
        let ssh = ctx(&[]);
        assert_eq!(choose_flow(&ssh, &named, None), SignInFlow::DeviceCode);
        assert_eq!(
            device_code_reason(&ssh, &named),
            Some(DeviceCodeReason::NoBrowser)
        );
        assert_eq!(choose_flow(&desktop, &legacy, None), SignInFlow::DeviceCode);
        assert_eq!(
            device_code_reason(&desktop, &legacy),
            Some(DeviceCodeReason::LegacySession)
        );
        assert_eq!(device_code_reason(&desktop, &named), None);
        assert_eq!(
            choose_flow(&ssh, &named, Some(SignInFlow::Browser)),
            SignInFlow::Browser,
            "asked for is what it gets"
        );
        let set = ctx(&[("DISPLAY", ":0"), ("SSOBAR_SIGN_IN_FLOW", "device-code")]);
        assert_eq!(choose_flow(&set, &named, None), SignInFlow::DeviceCode);
        let wsl = ctx(&[("WSL_DISTRO_NAME", "Debian")]);
        assert_eq!(
            choose_flow(&wsl, &named, None),
            SignInFlow::Browser,
            "WSL opens the Windows browser"
        );
        let session_browser = ctx(&[("SSOBAR_BROWSER", "firefox")]);
        assert_eq!(
            choose_flow(&session_browser, &named, None),
            SignInFlow::Browser,
            "a browser setting is a way to open one"
        );
    }
}
