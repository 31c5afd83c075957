//! **The** answer to "role credentials for this profile", which every command that needs them
//! calls (`credential-process`, `exec`, `env`, `serve`, `eks-token`, `console`, `kubeconfig`,
//! `aws-auth`): the running app's agent first (its memory, no keychain read), else the keychain
//! vault (stored, else fetched and kept), and when the session needs a sign-in, the recovery
//! of `expired` as the command's [`Patience`] allows, then the vault once more. Each request
//! the helper answers on its own goes to the access log (the app logs those it answers).

use crate::app_link::{AppAnswer, FromApp, ask_app_for, credentials_from_app};
use crate::args::WaitArg;
use crate::expired::{needs_sign_in, recover, silently_refreshed};
use anyhow::{Result, anyhow, bail};
use ssobar_core::app::agent::Handed;
use ssobar_core::app::channel::{Attended, Caller, Start};
use ssobar_core::config::{SessionId, login_command};
use ssobar_core::context::Context;
use ssobar_core::creds::access_log::{AnsweredBy, Outcome, Request, record};
use ssobar_core::creds::{AwsCredentials, Step, Vault, plan, plan_assuming};
use ssobar_core::settings::Approve;
use std::path::Path;

/// Which credentials a command wants.
#[derive(Clone, Copy)]
pub(crate) struct Wanted<'a> {
    /// The profile.
    pub profile: &'a str,
    /// A role to assume with the profile's credentials first (`eks-token --role-arn`).
    pub role_arn: Option<&'a str>,
}

/// How a command lives with a session that needs a sign-in.
#[derive(Clone, Copy)]
pub(crate) enum Patience {
    /// Have one as `on_expired` says (a refresh, the app, the terminal), then try once more.
    Recover {
        /// How long to wait for the app's sign-in.
        wait: WaitArg,
        /// Whether a person can answer one here.
        attended: Attended,
    },
    /// A credential server's request cannot wait for a person (the SDKs give up after
    /// seconds): a silent refresh at most; the next request tries again.
    RefreshOnly,
}

/// Credentials for `wanted`, with the profile's region.
pub(crate) fn role_credentials(
    ctx: &Context,
    wanted: Wanted<'_>,
    patience: Patience,
) -> Result<Handed> {
    if let Some(agent) = &ctx.paths.agent_socket {
        return from_remote_app(ctx, wanted, patience, agent);
    }
    // A profile whose credentials the person approves goes through the app, or nowhere.
    let approved_only = ctx.settings.approve(wanted.profile) != Approve::Never;
    match credentials_from_app(ctx, wanted.profile, wanted.role_arn) {
        FromApp::Handed(handed) => return Ok(handed),
        FromApp::Denied(why) => bail!("{why}; run the command again to be asked again"),
        FromApp::SignInNeeded(_) if approved_only => {
            return approved_after_sign_in(ctx, wanted, patience);
        }
        FromApp::NoAnswer | FromApp::Failed(_) | FromApp::SignInNeeded(_) if approved_only => {
            bail!(
                "profile {} needs approval in ssobar-app (approve = \"{}\" in settings.toml), which did not answer: start ssobar-app, then run the command again",
                wanted.profile,
                ctx.settings.approve(wanted.profile).as_str()
            )
        }
        FromApp::NoAnswer | FromApp::Failed(_) | FromApp::SignInNeeded(_) => {}
    }
    let config = ctx.load_config();
    let planned = match wanted.role_arn {
        Some(arn) => plan_assuming(&config, wanted.profile, arn),
        None => plan(&config, wanted.profile),
    };
    let steps = match planned {
        Ok(steps) => steps,
        Err(e) => {
            log_request(ctx, wanted, None, Err(e.to_string()));
            return Err(e.into());
        }
    };
    let region = config.profile_region(wanted.profile).map(str::to_owned);
    // The profile's network keys (ca_bundle, FIPS, dual-stack) for the calls the vault makes.
    let ctx = &ctx.for_profile(&config, wanted.profile);
    let fetched = from_vault_recovering(ctx, &steps, patience);
    let result = fetched.as_ref().map(|_| ()).map_err(|e| format!("{e:#}"));
    log_request(ctx, wanted, Some(&steps), result);
    Ok(Handed {
        credentials: fetched?,
        region,
    })
}

/// A profile that needs approval whose session needs a sign-in: the sign-in as `patience`
/// allows, then the app once more (never the keychain).
fn approved_after_sign_in(ctx: &Context, wanted: Wanted<'_>, patience: Patience) -> Result<Handed> {
    let config = ctx.load_config();
    let steps = plan(&config, wanted.profile)?;
    let ctx = &ctx.for_profile(&config, wanted.profile);
    let error = from_vault(ctx, &steps).err();
    if let (
        Some(Step::Sso {
            session, profile, ..
        }),
        Some(error),
    ) = (steps.first(), error)
        && needs_sign_in(&error)
    {
        let login = login_command(session, Some(profile));
        match patience {
            Patience::Recover { wait, attended } => {
                recover(ctx, session, &login, wait, attended, error)?
            }
            Patience::RefreshOnly => {
                if !silently_refreshed(ctx, session, &login)? {
                    return Err(error);
                }
            }
        }
    }
    match credentials_from_app(ctx, wanted.profile, wanted.role_arn) {
        FromApp::Handed(handed) => Ok(handed),
        FromApp::Denied(why) => bail!("{why}; run the command again to be asked again"),
        FromApp::NoAnswer | FromApp::Failed(_) | FromApp::SignInNeeded(_) => bail!(
            "ssobar-app did not hand out profile {}'s credentials after the sign-in; run the command again",
            wanted.profile
        ),
    }
}

/// On a remote shell (`SSOBAR_AGENT`): the laptop's app is the only source. This machine has
/// no token, keychain or profile of its own to fall back on; a session that needs a sign-in
/// is signed in by the app (its notification names this host), then asked once more.
fn from_remote_app(
    ctx: &Context,
    wanted: Wanted<'_>,
    patience: Patience,
    agent: &Path,
) -> Result<Handed> {
    let nobody = || {
        anyhow!(
            "no ssobar-app answered at SSOBAR_AGENT={}: forward it from the machine that runs ssobar-app (ssh -R {}:$XDG_RUNTIME_DIR/ssobar/app.sock HOST), then run the command again",
            agent.display(),
            agent.display()
        )
    };
    let mut signed_in = false;
    loop {
        let key = match credentials_from_app(ctx, wanted.profile, wanted.role_arn) {
            FromApp::Handed(handed) => return Ok(handed),
            FromApp::Denied(why) => bail!("{why}; run the command again to be asked again"),
            FromApp::Failed(why) => bail!(
                "ssobar-app could not hand out profile {}'s credentials: {why}",
                wanted.profile
            ),
            FromApp::NoAnswer => return Err(nobody()),
            FromApp::SignInNeeded(key) => key,
        };
        let session = key.as_deref().and_then(SessionId::from_key);
        let (Some(session), false) = (session, signed_in) else {
            bail!(
                "profile {}'s SSO session is not signed in in ssobar-app; sign in there (its tray), then run the command again",
                wanted.profile
            );
        };
        let next = format!(
            "sign in to \"{}\" in ssobar-app (its tray, on the machine that runs it), then run the command again",
            session.label()
        );
        let Patience::Recover { wait, .. } = patience else {
            bail!(
                "SSO session \"{}\" needs a sign-in in ssobar-app; sign in from its tray, then try again",
                session.label()
            );
        };
        match ask_app_for(ctx, &session, &next, wait, Start::AsConfigured)? {
            AppAnswer::SignedIn => signed_in = true,
            AppAnswer::NoApp => return Err(nobody()),
        }
    }
}

/// Puts a request this helper answered on its own in the access log (the app logs those it
/// answers), naming the program that runs this helper; a log that cannot be written is a
/// warning, never a failure.
fn log_request(
    ctx: &Context,
    wanted: Wanted<'_>,
    steps: Option<&[Step]>,
    result: Result<(), String>,
) {
    let program = Caller::of_this_helper().program();
    let request = Request {
        profile: wanted.profile,
        steps,
        program: &program,
        by: AnsweredBy::Helper,
    };
    let (outcome, detail) = match result {
        Ok(()) => (Outcome::HandedOut, None),
        Err(why) => (Outcome::Failed, Some(why)),
    };
    if let Some(warning) = record(ctx, &request, outcome, detail) {
        errln!("ssobar: warning: {warning}");
    }
}

/// A profile's credentials for a command that waits for a sign-in as `--wait` says: the
/// common case of [`role_credentials`].
pub(crate) fn of_profile(
    ctx: &Context,
    profile: &str,
    wait: WaitArg,
    attended: Attended,
) -> Result<AwsCredentials> {
    let wanted = Wanted {
        profile,
        role_arn: None,
    };
    let patience = Patience::Recover { wait, attended };
    Ok(role_credentials(ctx, wanted, patience)?.credentials)
}

/// The vault's credentials for the steps; when their session needs a sign-in, one is had as
/// `patience` allows and they are fetched again (once).
fn from_vault_recovering(
    ctx: &Context,
    steps: &[Step],
    patience: Patience,
) -> Result<AwsCredentials> {
    let error = match from_vault(ctx, steps) {
        Err(e) if needs_sign_in(&e) => e,
        other => return other,
    };
    let Some(Step::Sso {
        session, profile, ..
    }) = steps.first()
    else {
        return Err(error);
    };
    let login = login_command(session, Some(profile));
    match patience {
        Patience::Recover { wait, attended } => {
            recover(ctx, session, &login, wait, attended, error)?;
        }
        Patience::RefreshOnly => {
            if !silently_refreshed(ctx, session, &login)? {
                return Err(error);
            }
        }
    }
    from_vault(ctx, steps)
}

/// Credentials for the steps: the keychain's while they last, else fetched (and kept).
fn from_vault(ctx: &Context, steps: &[Step]) -> Result<AwsCredentials> {
    let vault = Vault::new(ctx);
    if let Some(creds) = vault.cached(steps)? {
        return Ok(creds);
    }
    Ok(crate::runtime()?.block_on(vault.credentials(steps))?)
}
