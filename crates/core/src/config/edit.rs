//! Changing the AWS config the way a person would with an editor: a line replaced, removed or
//! added, a section appended, and every other byte as it was. What `populate`, `setup` and
//! `doctor --fix` write goes through here.
//!
//! [`Document`] reads the file's sections line by line (what a header opens, which keys each
//! holds and on which line) and [`Document::apply`] makes [`Edit`]s to the bytes, each new line
//! taking the file's line ending. [`edit_file`] runs a computation over the config under the
//! cross-process lock every ssobar writing it takes, reads the file again before writing so
//! that an editor's save in between is not lost, and writes atomically.

use crate::paths::Paths;
use crate::util::fsutil;
use crate::util::lock::{KeyLock, LockError, LockRequest};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a write waits for another ssobar writing the same config: one write takes
/// milliseconds, so a lock held this long belongs to a process that is stuck.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// How many times a write computes its change again when the file changed under it (an editor
/// that does not take ssobar's lock saved it) before it gives up.
const ATTEMPTS: usize = 3;

/// A line of the file: where it starts, where its text ends (before `\r\n` or `\n`), and
/// where the next line starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line {
    pub(crate) start: usize,
    pub(crate) content_end: usize,
    pub(crate) end: usize,
}

impl Line {
    /// The line's text, without its line ending.
    pub(crate) fn content<'a>(&self, bytes: &'a [u8]) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(&bytes[self.start..self.content_end])
    }

    /// Whether it ends in `\r\n`.
    pub(crate) fn ends_in_crlf(&self) -> bool {
        self.end - self.content_end == 2
    }

    /// Whether it has a line ending at all (only the last line may not).
    pub(crate) fn has_ending(&self) -> bool {
        self.end > self.content_end
    }
}

/// The file's lines.
pub(crate) fn split_lines(bytes: &[u8]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let (content_end, end) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(at) => {
                let newline = start + at;
                let content_end = if newline > start && bytes[newline - 1] == b'\r' {
                    newline - 1
                } else {
                    newline
                };
                (content_end, newline + 1)
            }
            None => (bytes.len(), bytes.len()),
        };
        lines.push(Line {
            start,
            content_end,
            end,
        });
        start = end;
    }
    lines
}

/// What a section header opens, read as the SDKs read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SectionName {
    /// `[default]` or `[profile NAME]`.
    Profile(String),
    /// `[sso-session NAME]`.
    SsoSession(String),
    /// Any other section (`[services NAME]`, ...).
    Other(String),
}

/// The section a line opens, if it is a header.
pub(crate) fn section_name(line: &str) -> Option<SectionName> {
    let inner = line.trim().strip_prefix('[')?;
    let inner = inner[..inner.find(']')?].trim();
    if inner == "default" {
        return Some(SectionName::Profile("default".to_owned()));
    }
    let named = |prefix: &str| {
        inner
            .strip_prefix(prefix)
            .filter(|rest| rest.starts_with(char::is_whitespace))
            .map(|rest| rest.trim().to_owned())
    };
    Some(if let Some(name) = named("profile") {
        SectionName::Profile(name)
    } else if let Some(name) = named("sso-session") {
        SectionName::SsoSession(name)
    } else {
        SectionName::Other(inner.to_owned())
    })
}

/// A `key = value` line at the top level of a section (not indented: indented lines are a
/// nested property's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLine {
    /// The key, trimmed.
    pub key: String,
    /// The value, trimmed.
    pub value: String,
    /// The 0-based line index.
    pub line: usize,
}

/// One section: its header line, the lines up to the next header, and its keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// What it opens.
    pub name: SectionName,
    /// The header's line index.
    pub header: usize,
    /// The index of the line after its last line that is not blank or a comment.
    pub body_end: usize,
    /// Its top-level keys, in order.
    pub keys: Vec<KeyLine>,
}

impl Section {
    /// The lines of `key`, first first.
    pub fn key_lines<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a KeyLine> {
        self.keys.iter().filter(move |k| k.key == key)
    }
}

/// The config's lines and sections, to compute edits on.
#[derive(Debug)]
pub struct Document<'a> {
    bytes: &'a [u8],
    lines: Vec<Line>,
    /// Every section, in file order.
    pub sections: Vec<Section>,
}

/// A change to one line, or a section added at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The line's text becomes this (its line ending is kept).
    Replace {
        /// The 0-based line index.
        line: usize,
        /// The new text, without a line ending.
        text: String,
    },
    /// The line goes, with its line ending.
    Remove {
        /// The 0-based line index.
        line: usize,
    },
    /// New lines after this one.
    InsertAfter {
        /// The 0-based line index.
        line: usize,
        /// The lines, without line endings.
        lines: Vec<String>,
    },
    /// Lines at the end of the file, after one blank line.
    Append {
        /// The lines, without line endings.
        lines: Vec<String>,
    },
}

impl<'a> Document<'a> {
    /// Reads the file's sections.
    pub fn parse(bytes: &'a [u8]) -> Self {
        let lines = split_lines(bytes);
        let mut sections: Vec<Section> = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let text = line.content(bytes);
            if let Some(name) = section_name(&text) {
                sections.push(Section {
                    name,
                    header: index,
                    body_end: index + 1,
                    keys: Vec::new(),
                });
                continue;
            }
            let Some(section) = sections.last_mut() else {
                continue;
            };
            let trimmed = text.trim();
            if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
                continue;
            }
            section.body_end = index + 1;
            if text.starts_with(char::is_whitespace) {
                continue;
            }
            if let Some((key, value)) = text.split_once('=') {
                section.keys.push(KeyLine {
                    key: key.trim().to_owned(),
                    value: value.trim().to_owned(),
                    line: index,
                });
            }
        }
        Self {
            bytes,
            lines,
            sections,
        }
    }

    /// The sections of the profile `name` (the SDKs merge a name given twice).
    pub fn profile(&self, name: &str) -> impl Iterator<Item = &Section> {
        self.sections
            .iter()
            .filter(move |s| matches!(&s.name, SectionName::Profile(n) if n == name))
    }

    /// The sections of the sso-session `name`.
    pub fn sso_session(&self, name: &str) -> impl Iterator<Item = &Section> {
        self.sections
            .iter()
            .filter(move |s| matches!(&s.name, SectionName::SsoSession(n) if n == name))
    }

    /// The file's line ending: CRLF when more of its lines end so than in LF.
    pub fn line_ending(&self) -> &'static str {
        let crlf = self.lines.iter().filter(|l| l.ends_in_crlf()).count();
        let lf = self
            .lines
            .iter()
            .filter(|l| l.has_ending() && !l.ends_in_crlf())
            .count();
        if crlf > lf { "\r\n" } else { "\n" }
    }

    /// The bytes with `edits` made; every line no edit names is kept byte for byte. Two edits
    /// of one line: the first counts.
    pub fn apply(&self, edits: &[Edit]) -> Vec<u8> {
        let eol = self.line_ending();
        let mut out = Vec::with_capacity(self.bytes.len() + 256);
        let push = |out: &mut Vec<u8>, text: &str| {
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(eol.as_bytes());
        };
        for (index, line) in self.lines.iter().enumerate() {
            let own_ending = &self.bytes[line.content_end..line.end];
            let change = edits.iter().find(|e| match e {
                Edit::Replace { line, .. } | Edit::Remove { line } => *line == index,
                _ => false,
            });
            match change {
                Some(Edit::Replace { text, .. }) => {
                    out.extend_from_slice(text.as_bytes());
                    // The last line may have none; inserted lines after it need one.
                    if own_ending.is_empty() && self.inserts_after(edits, index) {
                        out.extend_from_slice(eol.as_bytes());
                    } else {
                        out.extend_from_slice(own_ending);
                    }
                }
                Some(Edit::Remove { .. }) => {}
                _ => {
                    out.extend_from_slice(&self.bytes[line.start..line.end]);
                    if own_ending.is_empty() && self.inserts_after(edits, index) {
                        out.extend_from_slice(eol.as_bytes());
                    }
                }
            }
            for edit in edits {
                if let Edit::InsertAfter { line, lines } = edit
                    && *line == index
                {
                    for text in lines {
                        push(&mut out, text);
                    }
                }
            }
        }
        for edit in edits {
            if let Edit::Append { lines } = edit {
                if !out.is_empty() {
                    if !out.ends_with(b"\n") {
                        out.extend_from_slice(eol.as_bytes());
                    }
                    if !ends_with_blank_line(&out) {
                        out.extend_from_slice(eol.as_bytes());
                    }
                }
                for text in lines {
                    push(&mut out, text);
                }
            }
        }
        out
    }

    fn inserts_after(&self, edits: &[Edit], index: usize) -> bool {
        let last = index + 1 == self.lines.len();
        edits.iter().any(|e| match e {
            Edit::InsertAfter { line, .. } => *line == index,
            Edit::Append { .. } => last,
            _ => false,
        })
    }
}

/// Whether the text ends with an empty line (two line endings in a row, or only one line
/// ending in all).
fn ends_with_blank_line(out: &[u8]) -> bool {
    let trimmed = out.strip_suffix(b"\n").unwrap_or(out);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    trimmed.is_empty() || trimmed.ends_with(b"\n")
}

/// Why the config could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The config could not be read.
    #[error("cannot read {}: {source}; check its permissions", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config could not be written.
    #[error("cannot write {}: {source}; check the permissions of its folder", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another ssobar held the config's lock for the whole wait.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The file kept changing under the write.
    #[error(
        "{} kept changing while ssobar wrote it (an editor saving it?); run the command again",
        path.display()
    )]
    KeptChanging {
        /// The file.
        path: PathBuf,
    },
}

/// A change computed over the config and what became of it.
#[derive(Clone, Debug)]
pub struct Edited<T> {
    /// The config file, as the environment names it.
    pub path: PathBuf,
    /// Its bytes before (empty when it did not exist).
    pub before: Vec<u8>,
    /// Its bytes after (or as they would be).
    pub after: Vec<u8>,
    /// What the computation said about its change.
    pub outcome: T,
}

impl<T> Edited<T> {
    /// Whether the file's bytes change.
    pub fn changes(&self) -> bool {
        self.before != self.after
    }
}

/// The config's bytes as they are now (none when it does not exist), with no lock: what a dry
/// run or a check reads.
pub fn read_config(paths: &Paths) -> Result<Vec<u8>, EditError> {
    let target = fsutil::link_target(&paths.config_file).map_err(|source| EditError::Read {
        path: paths.config_file.clone(),
        source,
    })?;
    Ok(read_with_mode(&target)?.0)
}

/// Runs `compute` over the AWS config's bytes and writes what it returns, under the lock every
/// ssobar writing the config takes; the bytes are read under the lock and again just before the
/// write, and `compute` runs again when an editor saved the file in between. The write is
/// atomic, 0600 or the file's own mode where that is stricter; a config that is a symlink stays
/// one and the file it leads to gets the bytes; a missing folder is made private. Nothing is
/// written when the bytes do not change.
pub fn edit_file<T, E>(
    paths: &Paths,
    mut compute: impl FnMut(&[u8]) -> Result<(Vec<u8>, T), E>,
) -> Result<Edited<T>, E>
where
    E: From<EditError>,
{
    let path = &paths.config_file;
    let target = fsutil::link_target(path).map_err(|source| EditError::Read {
        path: path.clone(),
        source,
    })?;
    // The lock of the file the write lands in, beside it: two names of one file (a link
    // and its target) share it, and so do processes whatever their environment.
    let lock_path = KeyLock::guarding(&target);
    let what = format!("writing {}", path.display());
    let _lock = KeyLock::acquire_blocking(&LockRequest {
        path: &lock_path,
        what: &what,
        wait: LOCK_WAIT,
    })
    .map_err(EditError::from)?;
    for _ in 0..ATTEMPTS {
        let (before, mode) = read_with_mode(&target)?;
        let (after, outcome) = compute(&before)?;
        let edited = Edited {
            path: path.clone(),
            before,
            after,
            outcome,
        };
        if !edited.changes() {
            return Ok(edited);
        }
        // An editor does not take ssobar's lock: if it saved the file since it was read, the
        // change is computed again from what it saved.
        if read_with_mode(&target)?.0 != edited.before {
            continue;
        }
        write_config(&target, &edited.after, mode).map_err(|source| EditError::Write {
            path: target.clone(),
            source,
        })?;
        return Ok(edited);
    }
    Err(EditError::KeptChanging { path: path.clone() }.into())
}

/// The file's bytes (none when it does not exist) and its permission bits.
fn read_with_mode(target: &Path) -> Result<(Vec<u8>, Option<u32>), EditError> {
    let read_error = |source| EditError::Read {
        path: target.to_owned(),
        source,
    };
    match std::fs::read(target) {
        Ok(bytes) => {
            let mode = std::fs::metadata(target).map_err(read_error)?;
            Ok((bytes, Some(permission_bits(&mode))))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Vec::new(), None)),
        Err(e) => Err(read_error(e)),
    }
}

#[cfg(unix)]
fn permission_bits(metadata: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn permission_bits(_metadata: &std::fs::Metadata) -> u32 {
    0o600
}

/// Writes the config atomically: 0600, or the file's mode where it allows less (0400 stays
/// 0400, 0644 becomes 0600). A missing folder is created private to the user; an existing one
/// (which may be HOME itself) is left as it is.
fn write_config(target: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir)?;
    }
    let mode = mode.map_or(0o600, |m| m & 0o600);
    fsutil::write_atomic_with_mode(target, bytes, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "# mine\r\n[default]\r\nregion = eu-west-1\r\n\r\n[profile old]\r\nsso_start_url = https://x.awsapps.com/start\r\nsso_region = us-east-1\r\ns3 =\r\n  max_concurrent_requests = 10\r\n# a comment\r\n\r\n[sso-session corp]\r\nsso_start_url = https://corp.awsapps.com/start\r\n[services x]\r\nlast = line";

    #[test]
    fn sections_and_their_keys_are_found_by_line() {
        let doc = Document::parse(CONFIG.as_bytes());
        let names: Vec<&SectionName> = doc.sections.iter().map(|s| &s.name).collect();
        assert_eq!(
            names,
            [
                &SectionName::Profile("default".into()),
                &SectionName::Profile("old".into()),
                &SectionName::SsoSession("corp".into()),
                &SectionName::Other("services x".into()),
            ]
        );
        let old = doc.profile("old").next().unwrap();
        let keys: Vec<(&str, usize)> = old.keys.iter().map(|k| (k.key.as_str(), k.line)).collect();
        assert_eq!(keys, [("sso_start_url", 5), ("sso_region", 6), ("s3", 7)]);
        assert_eq!(
            old.body_end, 9,
            "the nested line counts, the comment after it not"
        );
        assert_eq!(doc.line_ending(), "\r\n");
    }

    #[test]
    fn edits_touch_only_their_lines_and_take_the_file_s_line_ending() {
        let doc = Document::parse(CONFIG.as_bytes());
        let out = doc.apply(&[
            Edit::Replace {
                line: 5,
                text: "sso_session = x".into(),
            },
            Edit::Remove { line: 6 },
            Edit::InsertAfter {
                line: 12,
                lines: vec!["sso_region = us-east-1".into()],
            },
            Edit::Append {
                lines: vec!["[sso-session x]".into(), "sso_region = us-east-1".into()],
            },
        ]);
        let expected = CONFIG
            .replace(
                "sso_start_url = https://x.awsapps.com/start\r\nsso_region = us-east-1\r\n",
                "sso_session = x\r\n",
            )
            .replace(
                "corp.awsapps.com/start\r\n",
                "corp.awsapps.com/start\r\nsso_region = us-east-1\r\n",
            )
            + "\r\n\r\n[sso-session x]\r\nsso_region = us-east-1\r\n";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert_eq!(doc.apply(&[]), CONFIG.as_bytes());
    }

    #[test]
    fn a_section_appended_to_nothing_or_after_a_blank_line_gets_no_extra_blank_line() {
        let append = Edit::Append {
            lines: vec!["[sso-session x]".into()],
        };
        assert_eq!(
            Document::parse(b"").apply(std::slice::from_ref(&append)),
            b"[sso-session x]\n"
        );
        assert_eq!(
            Document::parse(b"[a]\n\n").apply(std::slice::from_ref(&append)),
            b"[a]\n\n[sso-session x]\n"
        );
        assert_eq!(
            Document::parse(b"[a]\nk = v\n").apply(std::slice::from_ref(&append)),
            b"[a]\nk = v\n\n[sso-session x]\n"
        );
    }

    #[test]
    fn an_insert_after_a_last_line_without_an_ending_gives_it_one() {
        let doc = Document::parse(b"[sso-session s]\nsso_region = us-east-1");
        let out = doc.apply(&[Edit::InsertAfter {
            line: 1,
            lines: vec!["sso_registration_scopes = sso:account:access".into()],
        }]);
        assert_eq!(
            out,
            b"[sso-session s]\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n"
        );
    }
}
