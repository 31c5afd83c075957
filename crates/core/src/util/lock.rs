//! Cross-process single flight: one sign-in, refresh or credential fetch per key at a time.
//!
//! An OS file lock (flock/LockFileEx through `std::fs::File::lock`) is released by the kernel
//! when its holder exits or crashes, so a killed `ssobar` can never wedge the others. A holder
//! that is alive but stuck (stopped with Ctrl-Z, waiting on a keychain prompt) is not waited
//! for forever: every wait has a deadline, and the holder writes its pid and command into the
//! lock file so that whoever gives up can say which process to look at.
//!
//! A lock is found from what it guards, never from the environment: a cron job without
//! `XDG_RUNTIME_DIR` and a desktop shell with it must take the same lock for the same token.
//! A file's lock is `.ssobar-locks/NAME.lock` in the file's own folder ([`KeyLock::guarding`]);
//! what is no file (a keychain entry) takes a lock in the folder of the files it goes with
//! ([`KeyLock::in_folder`]: the SSO cache, found from HOME alone). One hidden folder, rather
//! than kubectl's `NAME.lock` beside the file: these lock files stay after use (deleting a
//! flock'd file races with its next holder), and other tools' folders get one entry that
//! none of them reads (the AWS CLI reads its cache's files by name, and `aws sso logout`
//! skips what is not JSON) instead of one per file, never a name taken for a lock by its
//! existence.

use crate::util::fsutil;
use crate::util::text::printable;
use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct KeyLock {
    _file: File,
}

/// The process that holds a lock, as it described itself in the lock file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    /// Its process id.
    pub pid: u32,
    /// Its command line, up to any `--` (what follows may be another program's secrets).
    pub command: String,
}

impl LockHolder {
    /// This process, as a waiter will be told about it.
    fn current() -> Self {
        // The process's own arguments describe it the way its pid does; they are read here
        // and nowhere else, only to be shown to a person who waits for this process.
        Self {
            pid: std::process::id(),
            command: command_line(std::env::args_os()),
        }
    }

    fn to_record(&self) -> String {
        format!("{}\n{}\n", self.pid, self.command)
    }

    /// Reads what [`Self::to_record`] wrote; `None` for anything else (a lock file from an
    /// older ssobar, or one whose holder has not written yet).
    fn from_record(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let pid = lines.next()?.trim().parse().ok()?;
        // Any process of the user can write the file, and what it says reaches a terminal.
        let command = printable(lines.next().unwrap_or_default());
        Some(Self { pid, command })
    }
}

/// A command line as a lock record shows it: the program's file name, its arguments up to a
/// `--` (what follows may be another program's secrets), on one printable line.
fn command_line(args: impl IntoIterator<Item = std::ffi::OsString>) -> String {
    let mut words: Vec<String> = Vec::new();
    for (i, arg) in args.into_iter().enumerate() {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            words.push("-- ...".into());
            break;
        }
        let word = if i == 0 {
            Path::new(arg.as_ref())
                .file_name()
                .map_or_else(|| arg.to_string(), |n| n.to_string_lossy().into_owned())
        } else {
            arg.into_owned()
        };
        words.push(word);
    }
    printable(&words.join(" "))
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {} ({})", self.pid, self.command)
    }
}

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock file could not be made, opened or locked: its folder, beside what it guards,
    /// cannot be written (a full disk, a read-only folder).
    #[error(
        "cannot take the lock {} ({error}); free space there or make the folder writable",
        path.display()
    )]
    Io {
        /// The lock file that could not be used.
        path: PathBuf,
        /// What the system said.
        error: io::Error,
    },
    /// Another process held the lock for the whole wait.
    #[error("{}", busy_message(what, holder.as_ref(), *waited))]
    Busy {
        /// What the lock guards, in words ("the sign-in to corp").
        what: String,
        /// Who holds it, if it said.
        holder: Option<LockHolder>,
        /// How long this process waited.
        waited: Duration,
    },
}

impl LockError {
    /// Whether running the same command later may work: once the lock's folder can be
    /// written. A holder that kept it past the wait is named, and is for a person to look at.
    pub fn worth_running_again(&self) -> bool {
        matches!(self, Self::Io { .. })
    }
}

fn busy_message(what: &str, holder: Option<&LockHolder>, waited: Duration) -> String {
    let secs = waited.as_secs();
    let unit = if secs == 1 { "second" } else { "seconds" };
    match holder {
        Some(holder) => format!(
            "gave up after {secs} {unit}: {holder} is still busy with {what}; if it is stuck (stopped with Ctrl-Z, or waiting for a keychain prompt), resume it or end it with \"kill {}\", then run this command again",
            holder.pid
        ),
        None => format!(
            "gave up after {secs} {unit}: another ssobar process is still busy with {what}; if one is stuck, end it (\"pkill -x ssobar\"), then run this command again"
        ),
    }
}

/// How often a waiting task looks again. Waits are for sign-ins (seconds) or for one network
/// call (tens of milliseconds), so this is small next to either.
const POLL: Duration = Duration::from_millis(20);

/// What to wait for and how long: a lock file, what it guards (for the message) and the
/// deadline of the wait.
#[derive(Clone, Debug)]
pub struct LockRequest<'a> {
    /// The lock file ([`KeyLock::guarding`] or [`KeyLock::in_folder`]).
    pub path: &'a Path,
    /// What the lock guards, in words ("the sign-in to corp").
    pub what: &'a str,
    /// Give up after this long.
    pub wait: Duration,
}

/// The folder, beside the files they guard, that holds ssobar's lock files.
pub const LOCK_FOLDER: &str = ".ssobar-locks";

impl KeyLock {
    /// The lock file that guards `file`: `.ssobar-locks/NAME.lock` in `file`'s own folder,
    /// the same for every process that names the file that way, whatever its environment.
    pub fn guarding(file: &Path) -> PathBuf {
        let folder = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut name = file
            .file_name()
            .map_or_else(|| "file".into(), std::ffi::OsStr::to_os_string);
        name.push(".lock");
        folder.join(LOCK_FOLDER).join(name)
    }

    /// The lock file named `key` (a file name stem) for something that is kept with the files
    /// of `folder` without being one of them, such as a keychain entry of an SSO session:
    /// `.ssobar-locks/KEY.lock` in `folder`.
    pub fn in_folder(folder: &Path, key: &str) -> PathBuf {
        folder.join(LOCK_FOLDER).join(format!("{key}.lock"))
    }

    fn open(path: &Path) -> io::Result<File> {
        if let Some(dir) = path.parent() {
            fsutil::ensure_private_dir(dir)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(path)
    }

    /// Takes the lock if it is free; `Err(holder)` names who has it when it is not.
    fn try_take(path: &Path) -> Result<Result<Self, Option<LockHolder>>, LockError> {
        let io_error = |error| LockError::Io {
            path: path.to_owned(),
            error,
        };
        let mut file = Self::open(path).map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {
                // Who holds it, for anyone who has to wait. Best effort: the lock works
                // without the record, only the message of a waiter that gives up is vaguer.
                let record = LockHolder::current().to_record();
                let _ = file
                    .set_len(0)
                    .and_then(|()| file.rewind())
                    .and_then(|()| file.write_all(record.as_bytes()));
                Ok(Ok(Self { _file: file }))
            }
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let holder = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| LockHolder::from_record(&text));
                Ok(Err(holder))
            }
            Err(TryLockError::Error(e)) => Err(io_error(e)),
        }
    }

    /// Takes the lock if it is free.
    pub fn try_acquire(path: &Path) -> Result<Option<Self>, LockError> {
        Ok(Self::try_take(path)?.ok())
    }

    /// Waits for the lock, blocking the thread (for synchronous callers), until the deadline.
    pub fn acquire_blocking(request: &LockRequest<'_>) -> Result<Self, LockError> {
        let started = Instant::now();
        loop {
            match Self::try_take(request.path)? {
                Ok(lock) => return Ok(lock),
                Err(holder) if started.elapsed() >= request.wait => {
                    return Err(busy(request, holder));
                }
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }

    /// Waits for the lock without blocking the runtime, until the deadline; `on_wait` runs
    /// once if it must wait. Cancelling the future (Ctrl-C, a timeout) leaves nothing held.
    pub async fn acquire(
        request: &LockRequest<'_>,
        on_wait: impl FnOnce(),
    ) -> Result<Self, LockError> {
        let started = Instant::now();
        let mut on_wait = Some(on_wait);
        loop {
            match Self::try_take(request.path)? {
                Ok(lock) => return Ok(lock),
                Err(holder) if started.elapsed() >= request.wait => {
                    return Err(busy(request, holder));
                }
                Err(_) => {
                    if let Some(on_wait) = on_wait.take() {
                        on_wait();
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }
}

fn busy(request: &LockRequest<'_>, holder: Option<LockHolder>) -> LockError {
    LockError::Busy {
        what: request.what.to_owned(),
        holder,
        waited: request.wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &Path, wait: Duration) -> LockRequest<'_> {
        LockRequest {
            path,
            what: "the test key",
            wait,
        }
    }

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = KeyLock::guarding(&dir.path().join("k"));
        let held = KeyLock::try_acquire(&path).unwrap().expect("free at first");
        assert!(KeyLock::try_acquire(&path).unwrap().is_none());
        drop(held);
        assert!(KeyLock::try_acquire(&path).unwrap().is_some());
    }

    #[tokio::test]
    async fn a_waiter_gets_it_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = KeyLock::guarding(&dir.path().join("k"));
        let held = KeyLock::try_acquire(&path).unwrap().unwrap();
        let waited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = waited.clone();
        let p = path.clone();
        let waiter = tokio::spawn(async move {
            KeyLock::acquire(&request(&p, Duration::from_secs(30)), || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst)
            })
            .await
            .unwrap()
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished());
        drop(held);
        waiter.await.unwrap();
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_waiter_gives_up_at_its_deadline_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = KeyLock::guarding(&dir.path().join("k"));
        let _held = KeyLock::try_acquire(&path).unwrap().unwrap();
        let started = Instant::now();
        let err = KeyLock::acquire(&request(&path, Duration::from_millis(200)), || {})
            .await
            .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(200));
        let LockError::Busy { holder, .. } = &err else {
            panic!("{err}")
        };
        let holder = holder.as_ref().expect("the holder wrote its record");
        assert_eq!(holder.pid, std::process::id());
        let message = err.to_string();
        assert!(
            message.contains(&format!("kill {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains("the test key"), "{message}");
        assert!(!message.contains('\n'), "one line: {message}");

        let err =
            KeyLock::acquire_blocking(&request(&path, Duration::from_millis(50))).unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }), "{err}");
    }

    #[test]
    fn a_lock_is_found_from_the_file_it_guards_alone() {
        assert_eq!(
            KeyLock::guarding(Path::new("/h/.aws/sso/cache/0a1b.json")),
            Path::new("/h/.aws/sso/cache/.ssobar-locks/0a1b.json.lock")
        );
        assert_eq!(
            KeyLock::guarding(Path::new("/h/.aws/config")),
            Path::new("/h/.aws/.ssobar-locks/config.lock")
        );
        assert_eq!(
            KeyLock::in_folder(Path::new("/h/.aws/sso/cache"), "creds-00ff"),
            Path::new("/h/.aws/sso/cache/.ssobar-locks/creds-00ff.lock")
        );
    }

    #[test]
    fn a_lock_that_cannot_be_made_says_what_to_do_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the lock folder should be: it cannot be made, whoever runs the test.
        std::fs::write(dir.path().join(LOCK_FOLDER), b"").unwrap();
        let err = KeyLock::try_acquire(&KeyLock::guarding(&dir.path().join("k"))).unwrap_err();
        assert!(err.worth_running_again());
        let line = err.to_string();
        assert!(
            line.ends_with("; free space there or make the folder writable"),
            "{line}"
        );
        assert!(std::error::Error::source(&err).is_none(), "said once");
    }

    #[test]
    fn a_record_that_is_not_ours_names_no_holder() {
        assert_eq!(LockHolder::from_record(""), None);
        assert_eq!(LockHolder::from_record("not a pid\n"), None);
        assert_eq!(
            LockHolder::from_record("42\nssobar login\x1b[2J\n"),
            Some(LockHolder {
                pid: 42,
                command: "ssobar login".into()
            })
        );
    }

    #[test]
    fn a_command_line_is_recorded_up_to_a_double_dash_on_one_line() {
        let args = [
            "/usr/bin/ssobar",
            "exec",
            "-p",
            "dev",
            "--",
            "mysql",
            "-pSECRET",
        ];
        assert_eq!(
            command_line(args.map(std::ffi::OsString::from)),
            "ssobar exec -p dev -- ..."
        );
        let args = ["ssobar", "login", "--sso-session", "a\nb"];
        assert_eq!(
            command_line(args.map(std::ffi::OsString::from)),
            "ssobar login --sso-session a b"
        );
        assert_eq!(LockHolder::current().pid, std::process::id());
    }
}
