//! Atomic, private file writes: every token, cache and config ssobar writes goes through here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Creates `dir` (and its parents) and makes `dir` itself private to the user (0700 on Unix).
/// The folders it creates, parents included, are 0700 from the start: the runtime folder is
/// often made as the parent of one of its own folders, and it must never be open to others.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
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

/// The user ssobar runs as (the effective uid), whom the files and folders it trusts must
/// belong to.
#[cfg(unix)]
pub fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A file or a folder, for the command that makes it private.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A file: private is 0600.
    File,
    /// A folder: private is 0700.
    Folder,
}

/// Why someone besides the user ssobar runs as may change a file or folder. A token, a cache
/// or a setting that someone else may write may be theirs, not the user's
/// (aws-iam-authenticator refuses its cache on the same rule), so it is not used. Root, who
/// may change anything anyway, counts as no one else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OthersMayWrite {
    /// Another user owns it: that user's uid, and the uid ssobar runs as.
    pub owner: Option<(u32, u32)>,
    /// Its mode lets group or others write it.
    pub by_mode: bool,
}

/// Whether anyone besides the user ssobar runs as (or root) may change what `meta`
/// describes: `None` when nobody may. Metadata that followed a link judges what it leads to.
/// Windows has no owner and mode bits to read here; its ACLs on the profile folder keep
/// others out.
pub fn others_may_write(meta: &fs::Metadata) -> Option<OthersMayWrite> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = my_uid();
        let owner = (meta.uid() != me && meta.uid() != 0).then_some((meta.uid(), me));
        let by_mode = meta.mode() & 0o022 != 0;
        (owner.is_some() || by_mode).then_some(OthersMayWrite { owner, by_mode })
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

impl OthersMayWrite {
    /// In words: "writable by group or others", "owned by uid 65534", or both.
    pub fn describe(&self) -> String {
        match (self.owner, self.by_mode) {
            (Some((owner, _)), true) => {
                format!("owned by uid {owner} and writable by group or others")
            }
            (Some((owner, _)), false) => format!("owned by uid {owner}"),
            (None, _) => "writable by group or others".to_owned(),
        }
    }

    /// The command that leaves only the user able to change `path`.
    pub fn fix(&self, path: &Path, kind: Kind) -> String {
        let mode = match kind {
            Kind::File => "600",
            Kind::Folder => "700",
        };
        let chmod = format!("chmod {mode} {}", path.display());
        match self.owner {
            Some((_, me)) => format!("{} && {chmod}", chown_command(me, path)),
            None => chmod,
        }
    }
}

/// `chown` of `path` to `me`, through `sudo` unless ssobar runs as root: only root can take a
/// file from another user.
fn chown_command(me: u32, path: &Path) -> String {
    let sudo = if me == 0 { "" } else { "sudo " };
    format!("{sudo}chown {me} {}", path.display())
}

/// Why [`read_trusted`] gave no bytes.
#[derive(Debug)]
pub enum ReadError {
    /// No such file.
    Missing,
    /// Someone else may write the file or its folder: why, with the command that fixes it.
    Untrusted(String),
    /// Any other failure.
    Io(io::Error),
}

/// Reads `path` if nobody but the user may have written it: neither the file nor its folder
/// may be written by someone else ([`others_may_write`]). How every cache ssobar reads back
/// is read: the AWS CLI's token cache, the accounts and the clusters. The file's owner and
/// mode are taken from the open file, so what is checked is what is read.
pub fn read_trusted(path: &Path) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let mut file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadError::Missing,
        _ => ReadError::Io(e),
    })?;
    let folder = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = fs::metadata(folder).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if let Some(reason) = distrust(folder, &dir, path, &meta) {
        return Err(ReadError::Untrusted(reason));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(ReadError::Io)?;
    Ok(bytes)
}

/// Why a file, or its folder, may have been written by someone else, with the command that
/// fixes it; `None` when neither may.
fn distrust(folder: &Path, dir: &fs::Metadata, path: &Path, file: &fs::Metadata) -> Option<String> {
    match (others_may_write(dir), others_may_write(file)) {
        (None, None) => None,
        (Some(writers), file_writers) => Some(format!(
            "its folder is {}, so it is not trusted: run \"{} && {}\"",
            writers.describe(),
            writers.fix(folder, Kind::Folder),
            file_writers.map_or_else(
                || format!("chmod 600 {}", path.display()),
                |w| w.fix(path, Kind::File)
            )
        )),
        (None, Some(writers)) => Some(format!(
            "{}, so not trusted: run \"{}\"",
            writers.describe(),
            writers.fix(path, Kind::File)
        )),
    }
}

/// A folder that is not private to the user ssobar runs as: someone else owns it, or group or
/// others have any permission on it. Whoever else could enter or change it could put a socket
/// or a file of theirs there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.line())]
pub struct NotPrivate {
    /// The folder.
    pub dir: PathBuf,
    /// Its owner's uid.
    pub owner: u32,
    /// The uid ssobar runs as.
    pub me: u32,
    /// Its permission bits.
    pub mode: u32,
}

impl NotPrivate {
    fn line(&self) -> String {
        let dir = self.dir.display();
        let mut what = Vec::new();
        let mut fix = Vec::new();
        if self.owner != self.me {
            what.push(format!(
                "belongs to uid {}, not to you (uid {})",
                self.owner, self.me
            ));
            fix.push(chown_command(self.me, &self.dir));
        }
        if self.mode & 0o077 != 0 {
            what.push(format!(
                "is open to group or others (mode {:04o})",
                self.mode & 0o7777
            ));
            fix.push(format!("chmod 700 {dir}"));
        }
        format!(
            "{dir} {}, so ssobar does not use it: run \"{}\"",
            what.join(" and "),
            fix.join(" && ")
        )
    }
}

/// Whether `dir` is private to the user ssobar runs as: theirs (the effective uid, root not
/// excepted) and with no permission bits for group or others. `Ok(Some(why))` when it is not;
/// an error when it cannot be read (`NotFound` when it does not exist). A link is judged by
/// what it leads to, where a path through it leads. Off Unix every folder counts as private.
pub fn check_private_dir(dir: &Path) -> io::Result<Option<NotPrivate>> {
    let meta = fs::metadata(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = my_uid();
        let private = meta.uid() == me && meta.mode() & 0o077 == 0;
        Ok((!private).then(|| NotPrivate {
            dir: dir.to_owned(),
            owner: meta.uid(),
            me,
            mode: meta.mode(),
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Ok(None)
    }
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

    #[cfg(unix)]
    #[test]
    fn a_folder_is_private_only_when_it_is_mine_and_closed_to_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("run");
        ensure_private_dir(&folder).unwrap();
        assert_eq!(check_private_dir(&folder).unwrap(), None);
        let me = my_uid();

        fs::set_permissions(&folder, fs::Permissions::from_mode(0o777)).unwrap();
        let why = check_private_dir(&folder)
            .unwrap()
            .expect("0777 is not private");
        assert_eq!(
            why.to_string(),
            format!(
                "{0} is open to group or others (mode 0777), so ssobar does not use it: run \"chmod 700 {0}\"",
                folder.display()
            )
        );
        fs::set_permissions(&folder, fs::Permissions::from_mode(0o750)).unwrap();
        assert!(
            check_private_dir(&folder).unwrap().is_some(),
            "group may enter"
        );

        fs::set_permissions(&folder, fs::Permissions::from_mode(0o700)).unwrap();
        let nobody = 65534;
        // Only root can give a folder away: this test needs it, as the suites run.
        std::os::unix::fs::chown(&folder, Some(nobody), None)
            .expect("chown to nobody (the test runs as root)");
        let why = check_private_dir(&folder)
            .unwrap()
            .expect("nobody's is not mine");
        let sudo = if me == 0 { "" } else { "sudo " };
        assert_eq!(
            why.to_string(),
            format!(
                "{0} belongs to uid {nobody}, not to you (uid {me}), so ssobar does not use it: run \"{sudo}chown {me} {0}\"",
                folder.display()
            )
        );
        assert!(!why.to_string().contains('\n'));
        assert_eq!(
            check_private_dir(&dir.path().join("absent"))
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
    }

    #[cfg(unix)]
    #[test]
    fn others_may_write_by_the_mode_or_by_owning_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"x").unwrap();
        let writers = |mode: u32| {
            fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
            others_may_write(&fs::metadata(&file).unwrap())
        };
        assert_eq!(writers(0o600), None);
        assert_eq!(writers(0o644), None, "others may read, not write");
        let loose = writers(0o664).expect("group may write");
        assert_eq!(loose.describe(), "writable by group or others");
        assert_eq!(
            loose.fix(&file, Kind::File),
            format!("chmod 600 {}", file.display())
        );
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&file, Some(65534), None)
            .expect("chown to nobody (the test runs as root)");
        let theirs = others_may_write(&fs::metadata(&file).unwrap()).expect("nobody's file");
        assert_eq!(theirs.describe(), "owned by uid 65534");
        let me = my_uid();
        let sudo = if me == 0 { "" } else { "sudo " };
        assert_eq!(
            theirs.fix(dir.path(), Kind::Folder),
            format!(
                "{sudo}chown {me} {0} && chmod 700 {0}",
                dir.path().display()
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_folders_made_on_the_way_are_private_too() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("run/ssobar/eks");
        ensure_private_dir(&deep).unwrap();
        for made in [dir.path().join("run"), dir.path().join("run/ssobar"), deep] {
            let mode = fs::metadata(&made).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", made.display());
        }
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
