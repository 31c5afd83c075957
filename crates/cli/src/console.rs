//! `ssobar console`: the AWS Management Console in the browser as a profile's role, signed in
//! through the federation endpoint with the role's credentials; `--print` prints the login URL
//! instead of opening it. The browser (or the clipboard) gets a one-time link to the login
//! URL, never the URL itself (`sso::secret_link`), and the command waits until it is followed.

use crate::args::{WaitArg, attended_on_stderr, profile_or_default};
use crate::role_credentials::of_profile;
use crate::{Outcome, UsageError, runtime};
use anyhow::{Result, bail};
use ssobar_core::config::is_region_name;
use ssobar_core::context::Context;
use ssobar_core::creds::console::{Destination, console_url_with};
use ssobar_core::creds::{Step, plan};
use ssobar_core::sso::secret_link::{SecretDelivery, open_secret_url};
use ssobar_core::util::text::printable;

/// Arguments of `ssobar console`.
#[derive(clap::Args)]
pub struct ConsoleArgs {
    /// The profile (default: $AWS_PROFILE, else "default").
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// Print the login URL instead of opening it. Whoever opens it within 15 minutes is
    /// signed in as the role: treat it as a password.
    #[arg(long)]
    print: bool,
    /// Where to land: a service's page in the region (ec2, s3, eks, iam, ...) or any https://
    /// URL (default: the console's home page in the region).
    #[arg(long, value_name = "URL|SERVICE")]
    destination: Option<String>,
    /// The region (default: the profile's region, else the SSO session's, else us-east-1).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    #[command(flatten)]
    wait: WaitArg,
}

/// What becomes of the login URL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Handed to the browser; nothing on stdout.
    Open,
    /// Printed on stdout, and nowhere else.
    Print,
}

/// Runs `ssobar console`.
pub fn run(args: &ConsoleArgs, ctx: &Context) -> Result<Outcome> {
    let destination = match &args.destination {
        None => Destination::Home,
        Some(text) => text
            .parse::<Destination>()
            .map_err(|e| UsageError(format!("--destination {e}")))?,
    };
    if let Some(region) = &args.region
        && !is_region_name(region)
    {
        return Err(UsageError(format!(
            "--region {} is not a region name; pass one such as eu-west-1",
            printable(region)
        ))
        .into());
    }
    let delivery = if args.print {
        Delivery::Print
    } else {
        Delivery::Open
    };
    let profile = profile_or_default(ctx, args.profile.as_deref());
    let config = ctx.load_config();
    let steps = plan(&config, &profile)?;
    let region = args
        .region
        .clone()
        .or_else(|| config.profile_region(&profile).map(str::to_owned))
        .or_else(|| match steps.first() {
            Some(Step::Sso { session, .. }) => Some(session.region.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "us-east-1".to_owned());

    let credentials = of_profile(ctx, &profile, args.wait, attended_on_stderr())?;
    let runtime = runtime()?;
    let url = runtime.block_on(console_url_with(
        ctx,
        &steps,
        &credentials,
        &destination,
        &region,
    ))?;
    let print = || -> Result<()> {
        let mut line = url.expose().to_owned();
        line.push('\n');
        crate::out::write_stdout(line)?;
        Ok(())
    };
    let print_command = format!(
        "ssobar console --profile {} --print",
        crate::shell_quoted(&profile)
    );
    if delivery == Delivery::Print {
        print()?;
        return Ok(Outcome::Success);
    }
    let (role, account) = role_and_account(&steps);
    let delivered = runtime.block_on(open_secret_url(ctx, session_name(&steps), &url));
    // What to say once the browser has followed the link.
    let (link, when_followed) = match delivered {
        Ok(SecretDelivery::Opened { link, .. }) => (
            link,
            Some(format!(
                "Opened the AWS console as {role} in {account} in your browser."
            )),
        ),
        Ok(SecretDelivery::Copied { link, .. }) => {
            errln!(
                "Copied a one-time link to the AWS console as {role} in {account} to the clipboard; open it in your browser within {} seconds (it works once).",
                link.wait().as_secs()
            );
            (link, None)
        }
        // `url_action = "print"`: the URL is a secret, so stdout only, as `--print` has it.
        Ok(SecretDelivery::Print) => {
            print()?;
            return Ok(Outcome::Success);
        }
        Err(why) => bail!(
            "no browser opened the AWS console ({why}); run \"{print_command}\" and open the URL it prints"
        ),
    };
    if let Err(not_followed) = runtime.block_on(link.followed()) {
        bail!(
            "no browser opened the AWS console ({not_followed}); run \"{print_command}\" and open the URL it prints"
        );
    }
    if let Some(line) = when_followed {
        errln!("{line}");
    }
    Ok(Outcome::Success)
}

/// The sso-session the profile's credentials come from, whose browser settings apply.
fn session_name(steps: &[Step]) -> Option<&str> {
    match steps.first() {
        Some(Step::Sso { session, .. }) => session.id.session_name(),
        _ => None,
    }
}

/// The role and account the console shows: the SSO role, or the role a chain ends with.
fn role_and_account(steps: &[Step]) -> (String, String) {
    match steps.last() {
        Some(Step::Sso {
            account_id,
            role_name,
            ..
        }) => (role_name.clone(), account_id.clone()),
        Some(Step::Assume { request, .. }) => role_of_arn(&request.role_arn),
        None => (String::new(), String::new()),
    }
}

/// `(NAME, ACCOUNT)` of `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`; the ARN itself and an
/// empty account when it is not shaped so.
fn role_of_arn(arn: &str) -> (String, String) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", _, account, resource] if resource.starts_with("role/") => {
            let name = resource.rsplit('/').next().unwrap_or(resource);
            (name.to_owned(), (*account).to_owned())
        }
        _ => (arn.to_owned(), "its account".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chains_role_and_account_come_from_its_arn() {
        assert_eq!(
            role_of_arn("arn:aws:iam::444455556666:role/team/Deploy"),
            ("Deploy".to_owned(), "444455556666".to_owned())
        );
        assert_eq!(
            role_of_arn("arn:aws-cn:iam::1:role/R"),
            ("R".to_owned(), "1".to_owned())
        );
        assert_eq!(
            role_of_arn("not-an-arn"),
            ("not-an-arn".to_owned(), "its account".to_owned())
        );
    }
}
