//! `ssobar completions SHELL`, and the completion scripts and man pages `cargo xtask` writes
//! for packages. All are generated from `crate::command()`, so they name exactly the
//! subcommands and flags the binary takes.

use crate::Outcome;
use anyhow::Result;
use clap_complete::Shell;
use std::path::{Path, PathBuf};

/// The shells whose completion scripts packages install.
pub const PACKAGED_SHELLS: [Shell; 4] = [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell];

/// Arguments of `ssobar completions`.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for.
    shell: Shell,
}

/// Runs `ssobar completions`: the script on stdout, for a person to save where their shell
/// looks (docs/commands.md says where).
pub fn run(args: &CompletionsArgs) -> Result<Outcome> {
    // Generated whole first: clap_complete panics on a failed write, as when the reader of a
    // pipe has gone, where this way the write fails with an error (see `out`).
    let script = completion(args.shell);
    crate::out::write_stdout(script)?;
    Ok(Outcome::Success)
}

/// `shell`'s completion script for `ssobar`.
fn completion(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut crate::command(), "ssobar", &mut script);
    script
}

/// Writes the completion scripts for bash, zsh, fish and PowerShell into `dir`, under the
/// names each shell's completion folder expects (`ssobar.bash`, `_ssobar`, `ssobar.fish`,
/// `_ssobar.ps1`), and returns their paths.
pub fn write_completions(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    PACKAGED_SHELLS
        .iter()
        .map(|&shell| {
            let path = dir.join(clap_complete::Generator::file_name(&shell, "ssobar"));
            std::fs::write(&path, completion(shell))?;
            Ok(path)
        })
        .collect()
}

/// The man pages, as (file name, roff text): `ssobar.1` and one per subcommand
/// (`ssobar-status.1`, ...).
fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut command = crate::command().disable_help_subcommand(true);
    // Built, the subcommands carry their full names ("ssobar-status") and the global flags.
    command.build();
    let mut pages = Vec::new();
    add_man_pages(&command, &mut pages)?;
    Ok(pages)
}

fn add_man_pages(
    command: &clap::Command,
    pages: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    // Every page names the program and its version, the subcommands' pages too.
    let man = clap_mangen::Man::new(command.clone()).source(ssobar_version::line("ssobar"));
    let mut page = Vec::new();
    man.render(&mut page)?;
    pages.push((man.get_filename(), page));
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        add_man_pages(sub, pages)?;
    }
    Ok(())
}

/// Writes the man pages (section 1) into `dir` and returns their paths.
pub fn write_man_pages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    man_pages()?
        .into_iter()
        .map(|(name, page)| {
            let path = dir.join(name);
            std::fs::write(&path, page)?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command as the generated texts must mention it.
    struct Wanted {
        /// What a person types ("credential-process"); `None` for `ssobar` itself.
        typed: Option<String>,
        /// Its man page's name ("ssobar-credential-process").
        page: String,
        /// Its own long flags.
        flags: Vec<String>,
    }

    fn wanted(command: clap::Command) -> Vec<Wanted> {
        let mut command = command.disable_help_subcommand(true);
        command.build();
        let mut wanted = Vec::new();
        collect(&command, None, &mut wanted);
        wanted
    }

    fn collect(command: &clap::Command, typed: Option<String>, into: &mut Vec<Wanted>) {
        let flags = command
            .get_arguments()
            .filter(|arg| !arg.is_hide_set())
            .filter_map(|arg| arg.get_long().map(str::to_owned))
            .collect();
        let page = command
            .get_display_name()
            .unwrap_or(command.get_name())
            .to_owned();
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            let name = sub.get_name();
            let typed = typed
                .as_ref()
                .map_or(name.to_owned(), |t| format!("{t} {name}"));
            collect(sub, Some(typed), into);
        }
        into.push(Wanted { typed, page, flags });
    }

    /// How often `shell`'s script offers a long flag: once per command that takes it.
    fn offered(shell: Shell, script: &str, flag: &str) -> usize {
        match shell {
            Shell::Fish => occurrences(script, &format!("-l {flag}")),
            // Each result holds the flag twice: as the completion and as its list text.
            Shell::PowerShell => occurrences(script, &format!("::new('--{flag}'")),
            // An option's spec is followed by its description; the flag also stands bare in the
            // lists of the options it conflicts with.
            Shell::Zsh => {
                script.matches(&format!("--{flag}[")).count()
                    + script.matches(&format!("--{flag}=[")).count()
            }
            _ => occurrences(script, &format!("--{flag}")),
        }
    }

    /// How often `word` stands in `text` as a whole word (`--profile` in `--profile-name`
    /// does not count).
    fn occurrences(text: &str, word: &str) -> usize {
        text.match_indices(word)
            .filter(|(at, _)| {
                text[at + word.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '_'))
            })
            .count()
    }

    /// What `script` for `shell` leaves out of `wanted`. Each command's flags are listed in a
    /// part of the script of its own, so a flag that n commands take is named at least n times.
    fn missing_from_completion(shell: Shell, script: &str, wanted: &[Wanted]) -> Vec<String> {
        let mut missing = Vec::new();
        let mut takers = std::collections::BTreeMap::<&str, usize>::new();
        for command in wanted {
            if let Some(typed) = &command.typed
                && !script.contains(typed.as_str())
            {
                missing.push(format!("{shell}: subcommand {typed}"));
            }
            for flag in &command.flags {
                *takers.entry(flag).or_default() += 1;
            }
        }
        for (flag, commands) in takers {
            let named = offered(shell, script, flag);
            if named < commands {
                missing.push(format!(
                    "{shell}: --{flag} named {named} times for {commands} commands"
                ));
            }
        }
        missing
    }

    /// A dash as roff writes it.
    fn roff(text: &str) -> String {
        text.replace('-', "\\-")
    }

    /// What the man pages leave out of `wanted`: each command has its page, the main page
    /// names every subcommand, and each page names its command's flags.
    fn missing_from_man(pages: &[(String, Vec<u8>)], wanted: &[Wanted]) -> Vec<String> {
        let text = |file: &str| {
            pages
                .iter()
                .find(|(name, _)| name == file)
                .map(|(_, page)| String::from_utf8_lossy(page).into_owned())
        };
        let main = text("ssobar.1").unwrap_or_default();
        let mut missing = Vec::new();
        for command in wanted {
            let (name, flags) = (&command.page, &command.flags);
            let file = format!("{name}.1");
            let Some(page) = text(&file) else {
                missing.push(format!("man page {file}"));
                continue;
            };
            if name != "ssobar" && !main.contains(&roff(name)) {
                missing.push(format!("ssobar.1: {name}"));
            }
            for flag in flags {
                if !page.contains(&roff(&format!("--{flag}"))) {
                    missing.push(format!("{file}: --{flag}"));
                }
            }
        }
        missing
    }

    fn completion_text(shell: Shell, command: &mut clap::Command) -> String {
        let mut script = Vec::new();
        clap_complete::generate(shell, command, "ssobar", &mut script);
        String::from_utf8(script).expect("completion scripts are UTF-8")
    }

    #[test]
    fn completions_and_man_pages_name_every_subcommand_and_flag() {
        let wanted = wanted(crate::command());
        assert!(wanted.len() > 10, "the tree was walked");
        let mut missing = Vec::new();
        for shell in PACKAGED_SHELLS {
            let script =
                String::from_utf8(completion(shell)).expect("completion scripts are UTF-8");
            missing.extend(missing_from_completion(shell, &script, &wanted));
        }
        missing.extend(missing_from_man(
            &man_pages().expect("pages render"),
            &wanted,
        ));
        assert!(missing.is_empty(), "not generated: {missing:#?}");
    }

    #[test]
    fn the_drift_check_notices_a_flag_the_generated_text_lacks() {
        let wanted = wanted(crate::command());
        // The same command line with `status --json` spelt otherwise: what generated text
        // that has drifted from the command line looks like.
        let stale = crate::command().mut_subcommand("status", |sub| {
            sub.mut_arg("json", |arg| arg.long("as-json"))
        });
        for shell in PACKAGED_SHELLS {
            let script = completion_text(shell, &mut stale.clone());
            let missing = missing_from_completion(shell, &script, &wanted);
            assert!(
                missing
                    .iter()
                    .any(|m| m.starts_with(&format!("{shell}: --json "))),
                "{shell}: {missing:?}"
            );
        }
    }

    #[test]
    fn packages_get_the_file_names_each_shell_and_man_look_for() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let names = |paths: Vec<PathBuf>| -> Vec<String> {
            paths
                .iter()
                .map(|path| {
                    path.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect()
        };
        let scripts = names(write_completions(&dir.path().join("completions")).expect("written"));
        assert_eq!(
            scripts,
            ["ssobar.bash", "_ssobar", "ssobar.fish", "_ssobar.ps1"]
        );
        let pages = names(write_man_pages(&dir.path().join("man")).expect("written"));
        let subcommands = crate::command().get_subcommands().count();
        assert_eq!(pages.len(), 1 + subcommands, "{pages:?}");
        assert!(pages.contains(&"ssobar.1".to_owned()));
        assert!(pages.contains(&"ssobar-credential-process.1".to_owned()));
        for path in std::fs::read_dir(dir.path().join("man")).expect("the folder") {
            let page = std::fs::read_to_string(path.expect("an entry").path()).expect("a page");
            assert!(page.starts_with(".ie"), "roff: {page}");
        }
    }

    #[test]
    fn the_drift_check_notices_a_missing_man_page() {
        let wanted = wanted(crate::command());
        let pages: Vec<_> = man_pages()
            .expect("pages render")
            .into_iter()
            .filter(|(name, _)| name != "ssobar-login.1")
            .collect();
        assert_eq!(
            missing_from_man(&pages, &wanted),
            ["man page ssobar-login.1"]
        );
    }
}
