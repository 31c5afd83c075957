//! Atomic, private file writes: every token, cache and config ssobar writes goes through here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Creates `dir` (and its parents) and makes `dir` itself private to the user (0700 on Unix).
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(())
}

/// [`write_atomic`] into a folder made private first (see [`ensure_private_dir`]): how ssobar
/// writes the files only it and the AWS tools read.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        ensure_private_dir(dir)?;
    }
    write_atomic(path, contents)
}

/// Replaces `path` with `contents` atomically: readers see the old file or the new one, never
/// a mix, and a crash leaves at worst a stray temp file, never a truncated target.
///
/// The temp file is created beside the target (same filesystem, so the rename is atomic),
/// private to the user (0600), written, fsynced, renamed over the target, and the folder is
/// fsynced so the rename survives a power cut.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic_with_mode(path, contents, 0o600)
}

/// [`write_atomic`] with the new file's permission bits set to `mode` (on Unix; the umask
/// still applies) instead of 0600: a file a person made stricter than that stays so.
pub fn write_atomic_with_mode(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        unique_suffix()
    ));
    let result = write_new(&tmp, contents, mode).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir);
    remove_stray_temps(dir, &name.to_string_lossy());
    Ok(())
}

/// No write of one small file takes this long: a temp file older than this is a stray.
const STRAY_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes the temp files that earlier writes of `name` left in `dir` when they were killed
/// between creating and renaming them: those whose writer is gone, or that are older than
/// [`STRAY_AFTER`]. Best effort; a write in flight (its writer alive, its file fresh) stays.
fn remove_stray_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(suffix) = file_name
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|f| f.strip_suffix(".tmp"))
        else {
            continue;
        };
        let writer_gone = suffix
            .split('-')
            .next()
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !process_alive(pid));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STRAY_AFTER);
        if writer_gone || old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether a process with this id exists; where that cannot be told cheaply, it is taken to
/// exist (and only age makes its temp file a stray).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Creates `path` as a new file with permission bits `mode`. `create_new` is O_CREAT|O_EXCL,
/// which fails on any existing name, a symlink included, dangling or not, without following it
/// (as O_NOFOLLOW would): a link planted at the temp name cannot redirect the write.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(unix)]
fn sync_dir(dir: &Path) {
    // Best effort: some filesystems refuse fsync on a directory; the data itself is synced.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

/// The file a write through `path` must replace: `path` itself, or where its symlinks lead.
/// Renaming a temp file over a symlink would replace the link with a regular file; people
/// keep configs as links into a dotfiles folder, and the link must stay and lead to the new
/// content. A relative link is read from the link's folder, as the kernel reads it; a missing
/// file (or a link to one) is where the new file goes.
pub fn link_target(path: &Path) -> io::Result<PathBuf> {
    // The kernel's own limit on links in one lookup (ELOOP).
    const MAX_LINKS: usize = 40;
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Deletes `path`; a file that is already gone is not an error.
pub fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_removes_the_temp_files_that_killed_writes_of_the_same_file_left() {
        let dir = tempfile::tempdir().unwrap();
        // Beyond any pid_max: a writer that is gone.
        let stray = dir.path().join(".tok.json.4294967295-0-1.tmp");
        let in_flight = dir
            .path()
            .join(format!(".tok.json.{}-99-1.tmp", std::process::id()));
        let other_file = dir.path().join(".other.json.4294967295-0-1.tmp");
        for path in [&stray, &in_flight, &other_file] {
            fs::write(path, b"{\"accessToken\"").unwrap();
        }
        write_atomic(&dir.path().join("tok.json"), b"{}").unwrap();
        assert!(!stray.exists(), "the dead writer's temp file is gone");
        assert!(in_flight.exists(), "a live writer's fresh temp file stays");
        assert!(
            other_file.exists(),
            "another file's temp files are its own writes' business"
        );
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_0600_and_folders_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        fs::create_dir_all(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&sub).unwrap();
        assert_eq!(
            fs::metadata(&sub).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let path = sub.join("f");
        write_atomic(&path, b"x").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target");
        write_atomic(&path, b"old").unwrap();
        // A folder where the file should be: the rename fails, the original stays.
        let blocked = dir.path().join("blocked");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("inside"), b"keep").unwrap();
        assert!(write_atomic(&blocked, b"new").is_err());
        assert_eq!(fs::read(blocked.join("inside")).unwrap(), b"keep");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let leftovers = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_the_temp_name_is_not_followed() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let planted = dir.path().join(".token.json.tmp");
        symlink(&victim, &planted).unwrap();
        let err = write_new(&planted, b"secret", 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        // A dangling link would otherwise create its target.
        let absent = dir.path().join("absent");
        let dangling = dir.path().join(".other.json.tmp");
        symlink(&absent, &dangling).unwrap();
        assert!(write_new(&dangling, b"secret", 0o600).is_err());
        assert!(!absent.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_write_over_a_link_replaces_the_link_not_its_target() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let path = dir.path().join("token.json");
        symlink(&victim, &path).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert!(!fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }

    #[cfg(unix)]
    #[test]
    fn link_target_follows_relative_and_chained_links() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        fs::create_dir_all(home.join(".kube")).unwrap();
        fs::create_dir_all(home.join("dotfiles")).unwrap();
        fs::write(home.join("dotfiles/kubeconfig"), b"x").unwrap();
        symlink("kubeconfig", home.join("dotfiles/current")).unwrap();
        symlink("../dotfiles/current", home.join(".kube/config")).unwrap();
        assert_eq!(
            link_target(&home.join(".kube/config")).unwrap(),
            home.join(".kube/../dotfiles/kubeconfig")
        );
        assert_eq!(
            link_target(&home.join("dotfiles/kubeconfig")).unwrap(),
            home.join("dotfiles/kubeconfig")
        );
        assert_eq!(
            link_target(&home.join("absent")).unwrap(),
            home.join("absent")
        );
        symlink("loop", home.join("loop")).unwrap();
        assert!(link_target(&home.join("loop")).is_err());
    }
}
