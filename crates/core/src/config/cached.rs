//! The AWS config as a long-running process last read it ([`ConfigCache`]), for the app's
//! credential agent, which is asked for credentials many times a minute: a request costs a
//! `stat` of the config and credentials files instead of a parse of a config that may hold a
//! thousand profiles (about 4 ms for 1,000).
//!
//! Rules: the files are stamped before they are read, so an edit in between is read next
//! time; a file changed within [`SETTLING`] of the read is not trusted to its stamp (an edit in
//! the same clock tick could leave size and times alike, as git's "racy" index entries), so the
//! config is read again until its files have settled.

use super::AwsConfig;
use crate::paths::Paths;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// How long after its last change a file's stamp is trusted.
pub const SETTLING: Duration = Duration::from_secs(2);

/// The config last read, and the stamps of its files when it was.
#[derive(Default)]
pub struct ConfigCache {
    last: Mutex<Option<Snapshot>>,
}

struct Snapshot {
    stamps: [Option<Stamp>; 2],
    config: Arc<AwsConfig>,
}

/// What changes whenever a file is written or replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    /// Inode and status-change time (nanoseconds), where the platform has them: a rename over
    /// the file or a write that restored its old times still shows.
    identity: (u64, i64, i64),
}

impl ConfigCache {
    /// The config of `paths`: the one last read while neither file has changed, else read now.
    pub fn load(&self, paths: &Paths) -> Arc<AwsConfig> {
        let stamps = [stamp(&paths.config_file), stamp(&paths.credentials_file)];
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(snapshot) = last.as_ref()
            && snapshot.stamps == stamps
        {
            return snapshot.config.clone();
        }
        let config = Arc::new(AwsConfig::load(paths));
        let settled = stamps
            .iter()
            .flatten()
            .all(|s| s.modified.is_some_and(settled_since));
        *last = settled.then(|| Snapshot {
            stamps,
            config: config.clone(),
        });
        config
    }
}

fn settled_since(modified: SystemTime) -> bool {
    SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|age| age >= SETTLING)
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let identity = {
        use std::os::unix::fs::MetadataExt;
        (meta.ino(), meta.ctime(), meta.ctime_nsec())
    };
    #[cfg(not(unix))]
    let identity = (0, 0, 0);
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::paths_in;

    /// Writes `text` as the config and dates it `age` ago.
    fn write_config(paths: &Paths, text: &str, age: Duration) {
        std::fs::create_dir_all(paths.config_file.parent().unwrap()).unwrap();
        std::fs::write(&paths.config_file, text).unwrap();
        date(&paths.config_file, SystemTime::now() - age);
    }

    /// Sets the modification time of the file at `path`.
    fn date(path: &Path, modified: SystemTime) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(modified).unwrap();
    }

    fn region_of(config: &AwsConfig) -> Option<String> {
        config.profile_region("dev").map(str::to_owned)
    }

    #[test]
    fn a_settled_config_is_read_once_and_any_change_is_read_again() {
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        let cache = ConfigCache::default();
        let old = Duration::from_secs(60);
        write_config(&paths, "[profile dev]\nregion = eu-west-1\n", old);
        let first = cache.load(&paths);
        assert_eq!(region_of(&first).as_deref(), Some("eu-west-1"));
        assert!(
            Arc::ptr_eq(&first, &cache.load(&paths)),
            "read again unchanged"
        );

        // The same length, dated further back: the times differ.
        write_config(&paths, "[profile dev]\nregion = eu-west-2\n", old * 2);
        assert_eq!(region_of(&cache.load(&paths)).as_deref(), Some("eu-west-2"));

        // The same length and the very same modification time: only the status-change time
        // (and on a rename, the inode) tells.
        let modified = std::fs::metadata(&paths.config_file)
            .unwrap()
            .modified()
            .unwrap();
        std::fs::write(&paths.config_file, "[profile dev]\nregion = eu-west-3\n").unwrap();
        date(&paths.config_file, modified);
        assert_eq!(region_of(&cache.load(&paths)).as_deref(), Some("eu-west-3"));

        // A credentials file that appears counts as a change too.
        let before = cache.load(&paths);
        std::fs::write(&paths.credentials_file, "[dev]\n").unwrap();
        assert!(!Arc::ptr_eq(&before, &cache.load(&paths)));
    }

    #[test]
    fn a_config_changed_within_the_settling_time_is_read_every_time() {
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        let cache = ConfigCache::default();
        write_config(
            &paths,
            "[profile dev]\nregion = eu-west-1\n",
            Duration::ZERO,
        );
        let first = cache.load(&paths);
        assert!(!Arc::ptr_eq(&first, &cache.load(&paths)));
    }
}
