//! Cross-process single flight: one sign-in, refresh or credential fetch per key at a time.
//!
//! An OS file lock (flock/LockFileEx through `std::fs::File::lock`) is released by the kernel
//! when its holder exits or crashes, so a killed `ssobar` can never wedge the others.

use crate::fsutil;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct KeyLock {
    _file: File,
}

/// How often a waiting task looks again. Waits are for sign-ins (seconds) or for one network
/// call (tens of milliseconds), so this is small next to either.
const POLL: Duration = Duration::from_millis(20);

impl KeyLock {
    /// The lock file for `key` (a file name stem) under `runtime_dir`.
    pub fn path(runtime_dir: &Path, key: &str) -> PathBuf {
        runtime_dir.join("locks").join(format!("{key}.lock"))
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

    /// Takes the lock if it is free.
    pub fn try_acquire(path: &Path) -> io::Result<Option<Self>> {
        let file = Self::open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Waits for the lock, blocking the thread (for synchronous callers).
    pub fn acquire_blocking(path: &Path) -> io::Result<Self> {
        let file = Self::open(path)?;
        file.lock()?;
        Ok(Self { _file: file })
    }

    /// Waits for the lock without blocking the runtime; `on_wait` runs once if it must wait.
    /// Cancelling the future (Ctrl-C, a timeout) leaves nothing held.
    pub async fn acquire(path: &Path, on_wait: impl FnOnce()) -> io::Result<Self> {
        if let Some(lock) = Self::try_acquire(path)? {
            return Ok(lock);
        }
        on_wait();
        loop {
            tokio::time::sleep(POLL).await;
            if let Some(lock) = Self::try_acquire(path)? {
                return Ok(lock);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = KeyLock::path(dir.path(), "k");
        let held = KeyLock::try_acquire(&path).unwrap().expect("free at first");
        assert!(KeyLock::try_acquire(&path).unwrap().is_none());
        drop(held);
        assert!(KeyLock::try_acquire(&path).unwrap().is_some());
    }

    #[tokio::test]
    async fn a_waiter_gets_it_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = KeyLock::path(dir.path(), "k");
        let held = KeyLock::try_acquire(&path).unwrap().unwrap();
        let waited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = waited.clone();
        let p = path.clone();
        let waiter = tokio::spawn(async move {
            KeyLock::acquire(&p, || flag.store(true, std::sync::atomic::Ordering::SeqCst))
                .await
                .unwrap()
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished());
        drop(held);
        waiter.await.unwrap();
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
    }
}
