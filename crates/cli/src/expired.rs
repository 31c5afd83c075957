//! What a helper does when a session needs a sign-in: a silent refresh where the session
//! allows one; then, as the `on_expired` setting says, the running tray app (which signs in
//! once however many helpers ask, and tells each when it is done), or a sign-in from this
//! terminal; else the one-line error naming `ssobar login`. The original command then goes on.

use crate::app_link::{AppAnswer, ask_app};
use crate::args::WaitArg;
use crate::runtime;
use anyhow::Result;
use ssobar_core::app::channel::{Attended, Recovery, Start, recovery_order};
use ssobar_core::config::SsoSessionConfig;
use ssobar_core::context::Context;
use ssobar_core::creds::CredentialsError;
use ssobar_core::sso::signin::{self, RefreshOutcome, RefreshWhen, SignInError};
use ssobar_core::sso::token_cache::CachedToken;

/// Whether a credentials error is "the session needs a sign-in".
pub(crate) fn needs_sign_in(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<CredentialsError>(),
        Some(CredentialsError::SignInNeeded { .. })
    )
}

/// Gets `session` signed in, or fails with `original` (or why the way tried failed); `login`
/// is the command an error names. Whoever needs a session signed in calls this, then retries
/// once.
pub(crate) fn recover(
    ctx: &Context,
    session: &SsoSessionConfig,
    login: &str,
    wait: WaitArg,
    attended: Attended,
    original: anyhow::Error,
) -> Result<()> {
    if silently_refreshed(ctx, session, login)? {
        return Ok(());
    }
    for way in recovery_order(ctx.settings.on_expired, attended) {
        match way {
            Recovery::AskApp => match ask_app(ctx, session, login, wait, Start::AsConfigured)? {
                AppAnswer::SignedIn => return Ok(()),
                AppAnswer::NoApp => {}
            },
            Recovery::Terminal => {
                crate::signin::sign_in_here(ctx, session, &Default::default(), login)?;
                return Ok(());
            }
        }
    }
    Err(original)
}

/// Renews the token with its refresh token when it has a usable one; `false` when it has
/// none or the service refused (a browser sign-in is needed).
pub(crate) fn silently_refreshed(
    ctx: &Context,
    session: &SsoSessionConfig,
    login: &str,
) -> Result<bool> {
    let refreshable = match ctx.tokens.load(&session.id) {
        CachedToken::Present(token) => token.is_refreshable(ctx.now()),
        _ => false,
    };
    if !refreshable {
        return Ok(false);
    }
    match runtime()?.block_on(signin::refresh(ctx, session, RefreshWhen::Due, login)) {
        Ok(RefreshOutcome::Refreshed(_) | RefreshOutcome::NotNeeded(_)) => Ok(true),
        Err(SignInError::SignInNeeded { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
