//! **The** answer to "role credentials for this profile", which every command that needs them
//! calls (`credential-process`, `exec`, `env`, `serve`, `eks-token`, `console`, `kubeconfig`,
//! `aws-auth`): the running app's agent first (its memory, no keychain read), else the keychain
//! vault (stored, else fetched and kept), and when the session needs a sign-in, the recovery
//! of `expired` as the command's [`Patience`] allows, then the vault once more.

use crate::app_link::credentials_from_app;
use crate::args::WaitArg;
use crate::expired::{needs_sign_in, recover, silently_refreshed};
use anyhow::Result;
use ssobar_core::app::agent::Handed;
use ssobar_core::app::channel::Attended;
use ssobar_core::config::login_command;
use ssobar_core::context::Context;
use ssobar_core::creds::{AwsCredentials, Step, Vault, plan, plan_assuming};

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
    if let Some(handed) = credentials_from_app(ctx, wanted.profile, wanted.role_arn) {
        return Ok(handed);
    }
    let config = ctx.load_config();
    let steps = match wanted.role_arn {
        Some(arn) => plan_assuming(&config, wanted.profile, arn)?,
        None => plan(&config, wanted.profile)?,
    };
    let region = config.profile_region(wanted.profile).map(str::to_owned);
    let credentials = from_vault_recovering(ctx, &steps, patience)?;
    Ok(Handed {
        credentials,
        region,
    })
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
