//! Arguments and judgements several commands share: which profile, how long to wait for a
//! sign-in, whether a person is there to answer one. A leaf: it uses no other module.

use ssobar_core::app::channel::Attended;
use ssobar_core::context::Context;
use ssobar_core::creds::credential_env;
use ssobar_core::kube::eks::ExecApi;
use std::io::IsTerminal;
use std::time::Duration;

/// Which profile's credentials.
#[derive(clap::Args)]
pub struct ProfileArg {
    /// The profile (default: $AWS_PROFILE, else "default").
    #[arg(long, short = 'p')]
    profile: Option<String>,
}

impl ProfileArg {
    pub(crate) fn name(&self, ctx: &Context) -> String {
        profile_or_default(ctx, self.profile.as_deref())
    }
}

/// The profile given, else `$AWS_PROFILE`, else "default": the AWS CLI's rule.
pub(crate) fn profile_or_default(ctx: &Context, given: Option<&str>) -> String {
    given
        .or_else(|| ctx.env.get("AWS_PROFILE"))
        .unwrap_or("default")
        .to_owned()
}

/// How long to wait for a sign-in in the tray app.
#[derive(clap::Args, Clone, Copy, Default)]
pub struct WaitArg {
    /// Wait this many seconds for a sign-in in the tray app (default: the sign_in_wait
    /// setting, 120).
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u32>,
}

impl WaitArg {
    pub(crate) fn duration(self, ctx: &Context) -> Duration {
        self.wait
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or_else(|| ctx.settings.sign_in_wait())
    }
}

/// Whether stderr is a terminal, where the sign-in's prompts would be read.
pub(crate) fn attended_on_stderr() -> Attended {
    if std::io::stderr().is_terminal() {
        Attended::ByPerson
    } else {
        Attended::Unattended
    }
}

/// A terminal on stderr, or kubectl's word (`spec.interactive`) that it passed its own.
pub(crate) fn attended_for_kubectl(api: &ExecApi) -> Attended {
    if api.interactive {
        Attended::ByPerson
    } else {
        attended_on_stderr()
    }
}

/// The shells `ssobar env` and `ssobar serve` write for.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    /// POSIX sh, bash, zsh.
    Sh,
    /// fish.
    Fish,
    /// PowerShell.
    Powershell,
}

impl From<Shell> for credential_env::Shell {
    fn from(shell: Shell) -> Self {
        match shell {
            Shell::Sh => Self::Sh,
            Shell::Fish => Self::Fish,
            Shell::Powershell => Self::Powershell,
        }
    }
}

/// The shell lines are written for: the one asked for, else the login shell's.
pub(crate) fn shell_of(asked: Option<Shell>, ctx: &Context) -> credential_env::Shell {
    asked
        .map(Shell::into)
        .unwrap_or_else(|| credential_env::Shell::from_login_shell(ctx.env.get("SHELL")))
}
