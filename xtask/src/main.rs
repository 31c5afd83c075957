//! `cargo xtask`: the project's build steps that are not cargo's. `man DIR` writes the man
//! pages and `completions DIR` the completion scripts for bash, zsh, fish and PowerShell,
//! both generated from `ssobar`'s own command-line definition, for packages to install.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask man DIR | cargo xtask completions DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let write: fn(&Path) -> std::io::Result<Vec<PathBuf>> = match args.first().map(String::as_str) {
        Some("man") => ssobar::write_man_pages,
        Some("completions") => ssobar::write_completions,
        _ => return usage(),
    };
    let [_, dir] = args.as_slice() else {
        return usage();
    };
    match write(Path::new(dir)) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: cannot write into {dir}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
