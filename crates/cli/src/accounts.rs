//! `ssobar accounts`: every account a session reaches and its roles, as a table or as JSON.

use crate::args::{WaitArg, attended_on_stderr};
use crate::expired::recover;
use crate::signin::{SessionSelector, Target, select_one};
use crate::table::aligned;
use crate::{Outcome, runtime};
use anyhow::Result;
use ssobar_core::config::SsoSessionConfig;
use ssobar_core::context::Context;
use ssobar_core::sso::accounts::{self, AccountsError, Directory, DirectoryAccount, Listed, Reuse};

/// Arguments of `ssobar accounts`.
#[derive(clap::Args)]
pub struct AccountsArgs {
    #[command(flatten)]
    select: SessionSelector,
    /// Print JSON (`accounts[]` with `account_id`, `account_name`, `email_address`, `roles[]`)
    /// instead of a table.
    #[arg(long)]
    json: bool,
    /// Ask the portal again even if the list fetched within the hour is at hand.
    #[arg(long)]
    refresh: bool,
    #[command(flatten)]
    wait: WaitArg,
}

/// A session's directory: the hour's cache unless `refresh`, else the portal, with the
/// recovery every command has when the session needs a sign-in. A list that could not be
/// cached is still the list; stderr says so.
pub(crate) fn session_directory(
    ctx: &Context,
    session: &SsoSessionConfig,
    login: &str,
    refresh: bool,
    wait: WaitArg,
) -> Result<Directory> {
    let reuse = if refresh {
        Reuse::Refetch
    } else {
        Reuse::CachedWhenFresh
    };
    let listed = runtime()?.block_on(accounts::directory(ctx, session, login, reuse));
    let Listed {
        directory,
        not_cached,
        untrusted_cache,
    } = match listed {
        Err(e @ AccountsError::SignInNeeded { .. }) => {
            recover(ctx, session, login, wait, attended_on_stderr(), e.into())?;
            runtime()?.block_on(accounts::directory(ctx, session, login, reuse))?
        }
        other => other?,
    };
    if let Some(why) = untrusted_cache {
        errln!("ssobar: warning: {why}");
    }
    if let Some(why) = not_cached {
        errln!(
            "ssobar: warning: the list was not cached ({why}); the next call asks the portal again"
        );
    }
    Ok(directory)
}

/// Runs `ssobar accounts`.
pub fn run(args: &AccountsArgs, ctx: &Context) -> Result<Outcome> {
    let config = ctx.load_config();
    let Target { session, login } = select_one(ctx, &config, &args.select)?;
    let directory = session_directory(ctx, &session, &login, args.refresh, args.wait)?;

    if args.json {
        // One write: stdout is line-buffered, and a large organisation is thousands of lines.
        let mut json = serde_json::to_vec_pretty(&directory)?;
        json.push(b'\n');
        crate::out::write_stdout(json)?;
    } else if directory.accounts.is_empty() {
        errln!(
            "The SSO session \"{}\" reaches no accounts.",
            session.id.label()
        );
    } else {
        crate::out::write_stdout(render(&directory))?;
    }
    Ok(Outcome::Success)
}

const HEADERS: [&str; 4] = ["ACCOUNT", "NAME", "EMAIL", "ROLES"];

/// One row per account, columns padded to their widest cell, roles comma-separated.
fn render(directory: &Directory) -> String {
    let rows: Vec<[String; 4]> = directory.accounts.iter().map(row).collect();
    aligned(HEADERS, &rows)
}

fn row(account: &DirectoryAccount) -> [String; 4] {
    let or_dash = |cell: &Option<String>| cell.clone().unwrap_or_else(|| "-".to_owned());
    let roles = if account.roles.is_empty() {
        "-".to_owned()
    } else {
        account.roles.join(",")
    };
    [
        account.account_id.clone(),
        or_dash(&account.account_name),
        or_dash(&account.email_address),
        roles,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_aligned_row_per_account_with_its_roles() {
        let account = |id: &str, name: Option<&str>, roles: &[&str]| DirectoryAccount {
            account_id: id.into(),
            account_name: name.map(str::to_owned),
            email_address: name.map(|n| format!("{n}@example.com")),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        };
        let directory = Directory {
            fetched_at: "2024-05-01T12:00:00Z".parse().unwrap(),
            accounts: vec![
                account("111122223333", Some("prod"), &["Admin", "ReadOnly"]),
                account("444455556666", None, &[]),
            ],
        };
        assert_eq!(
            render(&directory),
            "ACCOUNT       NAME  EMAIL             ROLES\n\
             111122223333  prod  prod@example.com  Admin,ReadOnly\n\
             444455556666  -     -                 -\n"
        );
    }
}
