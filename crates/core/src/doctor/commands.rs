//! Other tools' command lines, read for what they stand for: a kubeconfig user's `exec`
//! (aws-iam-authenticator, `aws eks get-token`, either under `aws-vault exec PROFILE --`, or an
//! ssobar whose path is gone) and a profile's `credential_process` (aws-vault, granted,
//! aws-sso). Pure: the words in, the profile, cluster or role they name out.

use std::path::Path;

/// What a kubeconfig user's exec runs to get a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenCommand {
    /// `aws-iam-authenticator token -i CLUSTER`.
    IamAuthenticator,
    /// `aws eks get-token --cluster-name CLUSTER`.
    AwsEksGetToken,
    /// `ssobar eks-token ...` at a path that no longer exists (a moved or removed build).
    MovedSsobar {
        /// The path it had.
        path: String,
    },
}

/// A kubeconfig user's exec, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenExec {
    /// What it runs.
    pub runs: TokenCommand,
    /// Whether it runs under `aws-vault exec PROFILE --`.
    pub through_aws_vault: bool,
    /// The profile whose credentials sign the token: aws-vault's, `--profile`, or
    /// `AWS_PROFILE` in the exec's env.
    pub profile: Option<String>,
    /// The cluster.
    pub cluster: Option<String>,
    /// `--region`, or `AWS_REGION`/`AWS_DEFAULT_REGION` in the exec's env.
    pub region: Option<String>,
    /// A role assumed with the profile's credentials first (`-r`, `--role-arn`).
    pub role_arn: Option<String>,
}

/// The program a command names, without its folder or extension.
fn program(command: &str) -> Option<&str> {
    Path::new(command).file_stem()?.to_str()
}

/// The value of the first of `names` among `words`: `--name VALUE`, `--name=VALUE`, `-n VALUE`.
fn option_value(words: &[String], names: &[&str]) -> Option<String> {
    let mut words = words.iter();
    while let Some(word) = words.next() {
        for name in names {
            if word == name {
                return words.next().cloned();
            }
            if let Some(value) = word
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
            {
                return Some(value.to_owned());
            }
        }
    }
    None
}

/// The options of `aws-vault exec` and `export` that take a value as the next word.
const AWS_VAULT_VALUE_OPTIONS: &[&str] = &[
    "--duration",
    "-d",
    "--mfa-token",
    "-t",
    "--region",
    "--prompt",
    "--backend",
    "--keychain",
    "--format",
    "--secret-service-collection",
    "--pass-dir",
    "--pass-cmd",
    "--pass-prefix",
    "--file-dir",
    "--config",
];

/// `aws-vault [global options] exec|export [options] PROFILE [-- COMMAND...]`: the profile,
/// and what follows `--`.
fn aws_vault(words: &[String]) -> Option<(String, Vec<String>)> {
    let at = words.iter().position(|w| w == "exec" || w == "export")?;
    let mut rest = words[at + 1..].iter();
    let mut profile = None;
    while let Some(word) = rest.next() {
        if word == "--" {
            break;
        }
        if word.starts_with('-') {
            if !word.contains('=') && AWS_VAULT_VALUE_OPTIONS.contains(&word.as_str()) {
                rest.next();
            }
            continue;
        }
        profile = Some(word.clone());
        break;
    }
    let profile = profile?;
    let after: Vec<String> = rest.skip_while(|w| *w != "--").skip(1).cloned().collect();
    Some((profile, after))
}

/// Reads a kubeconfig user's exec: `command`, `args` and `env` (name, value) as the kubeconfig
/// has them. `gone` says whether an absolute path no longer exists. `None`: nothing of the
/// kinds doctor moves.
pub fn token_exec(
    command: &str,
    args: &[String],
    env: &[(String, String)],
    gone: &dyn Fn(&str) -> bool,
) -> Option<TokenExec> {
    let env_value = |name: &str| {
        env.iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .filter(|v| !v.is_empty())
    };
    let mut words: Vec<String> = std::iter::once(command.to_owned())
        .chain(args.iter().cloned())
        .collect();
    let mut vault_profile = None;
    if program(command) == Some("aws-vault") {
        let (profile, inner) = aws_vault(&words[1..])?;
        vault_profile = Some(profile);
        words = inner;
    }
    let first = words.first()?;
    let rest = &words[1..];
    let runs = match program(first)? {
        "aws-iam-authenticator" if rest.iter().any(|w| w == "token") => {
            TokenCommand::IamAuthenticator
        }
        "aws"
            if rest
                .windows(2)
                .any(|w| w[0] == "eks" && w[1] == "get-token") =>
        {
            TokenCommand::AwsEksGetToken
        }
        "ssobar" if Path::new(first).is_absolute() && gone(first) => TokenCommand::MovedSsobar {
            path: first.clone(),
        },
        _ => return None,
    };
    let (cluster, role_arn, profile) = match runs {
        TokenCommand::IamAuthenticator => (
            option_value(rest, &["--cluster-id", "-i"]),
            option_value(rest, &["--role", "-r"]),
            None,
        ),
        TokenCommand::AwsEksGetToken => (
            option_value(rest, &["--cluster-name", "--cluster-id"]),
            option_value(rest, &["--role-arn"]),
            option_value(rest, &["--profile"]),
        ),
        TokenCommand::MovedSsobar { .. } => (
            option_value(rest, &["--cluster-id", "--cluster-name"]),
            option_value(rest, &["--role-arn"]),
            option_value(rest, &["--profile", "-p"]),
        ),
    };
    Some(TokenExec {
        through_aws_vault: vault_profile.is_some(),
        profile: vault_profile
            .or(profile)
            .or_else(|| env_value("AWS_PROFILE")),
        cluster,
        region: option_value(rest, &["--region"])
            .or_else(|| env_value("AWS_REGION"))
            .or_else(|| env_value("AWS_DEFAULT_REGION")),
        role_arn,
        runs,
    })
}

/// A credentials tool a `credential_process` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    /// aws-vault (`aws-vault exec --json PROFILE`, `aws-vault export --format=json PROFILE`).
    AwsVault,
    /// granted (`granted credential-process --profile PROFILE`).
    Granted,
    /// aws-sso-cli (`aws-sso process --arn ARN`, or `--account ID --role NAME`).
    AwsSso,
}

impl Tool {
    /// Its name, as people call it.
    pub fn name(self) -> &'static str {
        match self {
            Self::AwsVault => "aws-vault",
            Self::Granted => "granted",
            Self::AwsSso => "aws-sso",
        }
    }
}

/// What the tool is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolTarget {
    /// Another profile's credentials (aws-vault and granted read the same AWS config).
    Profile(String),
    /// A role of an account (aws-sso keeps its own list of them).
    Role {
        /// The account id.
        account_id: String,
        /// The role (permission set) name.
        role_name: String,
    },
}

/// A `credential_process` that runs one of the tools, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolProcess {
    /// Which tool.
    pub tool: Tool,
    /// What it is asked for.
    pub target: ToolTarget,
}

/// Reads a `credential_process` command line; `None` when it runs none of the tools, or not in
/// a way that names a profile or role.
pub fn credential_tool(command_line: &str) -> Option<ToolProcess> {
    let words = crate::util::words::split_words(command_line).ok()?;
    let (first, rest) = words.split_first()?;
    let (tool, target) = match program(first)? {
        "aws-vault" => (Tool::AwsVault, ToolTarget::Profile(aws_vault(rest)?.0)),
        "granted" if rest.iter().any(|w| w == "credential-process") => (
            Tool::Granted,
            ToolTarget::Profile(option_value(rest, &["--profile"])?),
        ),
        "aws-sso" if rest.iter().any(|w| w == "process") => {
            let target = match option_value(rest, &["--arn", "-a"]) {
                Some(arn) => role_of_arn(&arn)?,
                None => ToolTarget::Role {
                    account_id: option_value(rest, &["--account", "-A"])?,
                    role_name: option_value(rest, &["--role", "-R"])?,
                },
            };
            (Tool::AwsSso, target)
        }
        _ => return None,
    };
    Some(ToolProcess { tool, target })
}

/// `arn:aws:iam::ACCOUNT:role/NAME` as a role target.
fn role_of_arn(arn: &str) -> Option<ToolTarget> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [_, _, "iam", _, account, resource] = parts.as_slice() else {
        return None;
    };
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    (!account.is_empty() && !name.is_empty()).then(|| ToolTarget::Role {
        account_id: (*account).to_owned(),
        role_name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn never_gone(_: &str) -> bool {
        false
    }

    #[test]
    fn the_seed_s_chain_is_read_as_a_profile_and_a_cluster() {
        // The kubeconfig user of the seed, as written there.
        let seed = token_exec(
            "aws-vault",
            &words("exec sso-profile -- aws-iam-authenticator token --cluster-id eks-cluster-name --cache"),
            &[],
            &never_gone,
        )
        .unwrap();
        assert_eq!(
            seed,
            TokenExec {
                runs: TokenCommand::IamAuthenticator,
                through_aws_vault: true,
                profile: Some("sso-profile".into()),
                cluster: Some("eks-cluster-name".into()),
                region: None,
                role_arn: None,
            }
        );
        let short = token_exec(
            "/usr/local/bin/aws-iam-authenticator",
            &words("token -i prod -r arn:aws:iam::1:role/Deploy"),
            &[
                ("AWS_PROFILE".into(), "dev".into()),
                ("AWS_REGION".into(), "eu-west-1".into()),
            ],
            &never_gone,
        )
        .unwrap();
        assert_eq!(short.profile.as_deref(), Some("dev"));
        assert_eq!(short.cluster.as_deref(), Some("prod"));
        assert_eq!(short.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            short.role_arn.as_deref(),
            Some("arn:aws:iam::1:role/Deploy")
        );
        assert!(!short.through_aws_vault);
        let vault_options = token_exec(
            "aws-vault",
            &words("--backend=file exec --duration 1h --no-session ops -- aws-iam-authenticator token -i=c"),
            &[],
            &never_gone,
        )
        .unwrap();
        assert_eq!(vault_options.profile.as_deref(), Some("ops"));
        assert_eq!(vault_options.cluster.as_deref(), Some("c"));
    }

    #[test]
    fn aws_eks_get_token_and_a_moved_ssobar_are_read_too() {
        let cli = token_exec(
            "aws",
            &words(
                "--region us-west-2 eks get-token --cluster-name prod --profile dev --output json",
            ),
            &[],
            &never_gone,
        )
        .unwrap();
        assert_eq!(cli.runs, TokenCommand::AwsEksGetToken);
        assert_eq!(
            (
                cli.profile.as_deref(),
                cli.cluster.as_deref(),
                cli.region.as_deref()
            ),
            (Some("dev"), Some("prod"), Some("us-west-2"))
        );
        let args = words("eks-token --profile dev --cluster-id prod --region eu-west-1");
        let moved = token_exec("/old/target/debug/ssobar", &args, &[], &|p| {
            p == "/old/target/debug/ssobar"
        })
        .unwrap();
        assert_eq!(
            moved.runs,
            TokenCommand::MovedSsobar {
                path: "/old/target/debug/ssobar".into()
            }
        );
        assert_eq!(moved.profile.as_deref(), Some("dev"));
        assert_eq!(token_exec("/usr/bin/ssobar", &args, &[], &never_gone), None);
        assert_eq!(token_exec("ssobar", &args, &[], &|_| true), None);
        assert_eq!(
            token_exec("kubelogin", &words("get-token"), &[], &never_gone),
            None
        );
        assert_eq!(
            token_exec("aws", &words("sts get-caller-identity"), &[], &never_gone),
            None
        );
        assert_eq!(
            token_exec("aws-vault", &words("exec"), &[], &never_gone),
            None
        );
        assert_eq!(token_exec("", &[], &[], &never_gone), None);
    }

    #[test]
    fn credential_processes_of_the_three_tools_name_a_profile_or_a_role() {
        let profile = |tool, name: &str| {
            Some(ToolProcess {
                tool,
                target: ToolTarget::Profile(name.into()),
            })
        };
        assert_eq!(
            credential_tool("aws-vault exec --json --prompt=osascript sso-profile"),
            profile(Tool::AwsVault, "sso-profile")
        );
        assert_eq!(
            credential_tool("/opt/homebrew/bin/aws-vault export --format json dev"),
            profile(Tool::AwsVault, "dev")
        );
        assert_eq!(
            credential_tool("granted credential-process --profile 'my prod'"),
            profile(Tool::Granted, "my prod")
        );
        let role = Some(ToolProcess {
            tool: Tool::AwsSso,
            target: ToolTarget::Role {
                account_id: "111122223333".into(),
                role_name: "Admin".into(),
            },
        });
        assert_eq!(
            credential_tool(
                "aws-sso -S Default process --arn arn:aws:iam::111122223333:role/Admin"
            ),
            role
        );
        assert_eq!(
            credential_tool("aws-sso process --account 111122223333 --role Admin"),
            role
        );
        assert_eq!(credential_tool("aws-sso process --arn nonsense"), None);
        assert_eq!(credential_tool("granted sso login"), None);
        assert_eq!(
            credential_tool("ssobar credential-process --profile dev"),
            None
        );
        assert_eq!(credential_tool("aws-vault exec 'unclosed"), None);
    }
}
