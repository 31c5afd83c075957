//! Printing that a closed stdout or stderr cannot turn into a panic.
//!
//! `println!` and `eprintln!` panic when a write fails, as it does (EPIPE) once the reader of
//! a pipe has gone: `ssobar status | head -1`. Every line the helper prints goes through the
//! macros here instead: [`errln!`] writes stderr and ignores a failure (there is nowhere left
//! to report it), [`outln!`] and [`write_stdout`] return a [`StdoutError`] that the command
//! passes up with `?`; `run` turns a closed stdout into exit status [`CLOSED_STDOUT`] and no
//! message.
//!
//! SIGPIPE stays ignored, as Rust's runtime leaves it, rather than back at its default (which
//! would end the process at the first write to a closed pipe): a sign-in whose stderr is
//! closed must still finish and write its token, and one progress line on stderr would kill
//! it. The programs ssobar starts (`exec`'s command, `exec --server`'s, the browser) get
//! SIGPIPE at its default all the same: the standard library resets it for every child it
//! starts.

use std::fmt;
use std::io::{self, Write};

/// The exit status of a command whose stdout was closed before all of it was written:
/// 128 + SIGPIPE, what a shell shows for a program a closed pipe stopped, so `set -o
/// pipefail` scripts see what they see of any other command cut short this way. A status
/// of 0 would say the output was delivered; 1 would be an error with no line to say which.
pub const CLOSED_STDOUT: u8 = 141;

/// `eprintln!` that cannot panic: one line on stderr, lost if stderr is closed or full.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::write_stderr(&::std::format!("{}\n", ::std::format_args!($($arg)*)))
    };
}

/// `println!` that cannot panic: one line on stdout, or a [`StdoutError`] to pass up with `?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::write_stdout(::std::format!("{}\n", ::std::format_args!($($arg)*)))
    };
}

/// `print!` that cannot panic: text on stdout as it is, or a [`StdoutError`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write_stdout(::std::format!($($arg)*))
    };
}

/// Why stdout did not take a write.
#[derive(Debug)]
pub enum StdoutError {
    /// Its reader has gone (EPIPE): the command ends quietly with [`CLOSED_STDOUT`].
    Closed,
    /// Any other failure (a full disk behind a redirection): an error like any other.
    Failed(io::Error),
}

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("stdout was closed"),
            Self::Failed(e) => write!(f, "cannot write to stdout: {e}"),
        }
    }
}

impl std::error::Error for StdoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Closed => None,
            Self::Failed(e) => Some(e),
        }
    }
}

impl From<io::Error> for StdoutError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Self::Closed
        } else {
            Self::Failed(e)
        }
    }
}

/// Writes `bytes` to stdout whole and flushes them, so that a failure is seen here and not
/// lost in the buffer at exit.
pub fn write_stdout(bytes: impl AsRef<[u8]>) -> Result<(), StdoutError> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(bytes.as_ref())?;
    stdout.flush()?;
    Ok(())
}

/// Writes `text` to stderr in one piece, ignoring a failure: stderr is where failures are
/// reported, so one there has no one to be told to.
pub fn write_stderr(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Whether `error` (or a cause of it) is stdout's reader having gone.
pub fn stdout_closed(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| matches!(cause.downcast_ref(), Some(StdoutError::Closed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn only_a_broken_pipe_is_a_closed_stdout() {
        let closed: StdoutError = io::Error::from(io::ErrorKind::BrokenPipe).into();
        assert!(matches!(closed, StdoutError::Closed));
        let full: StdoutError = io::Error::from(io::ErrorKind::StorageFull).into();
        assert_eq!(full.to_string(), "cannot write to stdout: no storage space");

        let wrapped = Err::<(), _>(StdoutError::Closed)
            .context("writing the table")
            .unwrap_err();
        assert!(stdout_closed(&wrapped), "found under its context");
        // Another pipe's reader gone (a program ssobar writes to) is an error like any other.
        let other = Err::<(), _>(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("cannot hand the URL to the browser")
            .unwrap_err();
        assert!(!stdout_closed(&other), "{other:#}");
    }
}
