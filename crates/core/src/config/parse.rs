//! Reading `~/.aws/config` and `~/.aws/credentials` with the AWS SDK's own parser
//! (`aws_runtime::env_config`), so ssobar sees exactly the profiles the SDK sees.
//!
//! The SDK parser gives up on the first malformed line; a person with one typo in a
//! forty-profile file still needs the other thirty-nine, so [`AwsConfig::parse`] blanks each
//! offending line, records `PATH:LINE: what is wrong` against the section it belongs to, and
//! parses again.

use crate::config::profiles::{AwsConfig, Profile, SsoSessionSection};
use crate::paths::Paths;
use crate::util::ready::block_on_ready;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_runtime::env_config::section::EnvConfigSections;
use aws_runtime::env_config::source;
use aws_types::os_shim_internal::{Env as ShimEnv, Fs as ShimFs};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Which of the two shared files a text came from; they name sections differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `~/.aws/config`: `[profile NAME]`, `[default]`, `[sso-session NAME]`.
    Config,
    /// `~/.aws/credentials`: `[NAME]`.
    Credentials,
}

/// The text of one config file and where it came from.
#[derive(Clone, Debug)]
pub struct ConfigText {
    /// Shown in error messages.
    pub path: PathBuf,
    /// How its sections are named.
    pub kind: FileKind,
    /// The file's contents.
    pub text: String,
}

/// The keys ssobar reads from a profile; everything else is left to the SDKs.
const PROFILE_KEYS: &[&str] = &[
    "sso_session",
    "sso_start_url",
    "sso_region",
    "sso_account_id",
    "sso_role_name",
    "sso_registration_scopes",
    "region",
    "role_arn",
    "source_profile",
    "credential_source",
    "role_session_name",
    "duration_seconds",
    "external_id",
    "mfa_serial",
    "credential_process",
    "aws_access_key_id",
    "web_identity_token_file",
    // What every AWS call of the profile trusts and which endpoints it asks for
    // (`aws::network`).
    "ca_bundle",
    "use_fips_endpoint",
    "use_dualstack_endpoint",
];

const SESSION_KEYS: &[&str] = &["sso_start_url", "sso_region", "sso_registration_scopes"];

/// A section a problem belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SectionId {
    Profile(String),
    Session(String),
    Other,
}

impl AwsConfig {
    /// Reads the config and credentials files. Missing files are empty; unreadable ones are
    /// reported in [`AwsConfig::warnings`], never an error: status must still show the rest.
    pub fn load(paths: &Paths) -> Self {
        let mut warnings = Vec::new();
        let mut texts = Vec::new();
        for (path, kind) in [
            (&paths.config_file, FileKind::Config),
            (&paths.credentials_file, FileKind::Credentials),
        ] {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let text = match String::from_utf8(bytes) {
                        Ok(text) => text,
                        Err(e) => {
                            warnings.push(format!(
                                "{}: not UTF-8 text; unreadable characters were replaced",
                                path.display()
                            ));
                            String::from_utf8_lossy(e.as_bytes()).into_owned()
                        }
                    };
                    texts.push(ConfigText {
                        path: path.clone(),
                        kind,
                        text,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => warnings.push(format!("{}: cannot read: {e}", path.display())),
            }
        }
        let mut config = Self::parse(&texts);
        warnings.append(&mut config.warnings);
        config.warnings = warnings;
        config
    }

    /// Parses config texts (config file first, then credentials, as the SDK merges them).
    pub fn parse(texts: &[ConfigText]) -> Self {
        let mut problems: Vec<(SectionId, String)> = Vec::new();
        let mut warnings = Vec::new();
        let mut note = |found: Found| {
            for (section, message) in found {
                match section {
                    Some(section) => problems.push((section, message)),
                    None => warnings.push(message),
                }
            }
        };
        for text in texts {
            note(unprefixed_sections(text));
        }
        let whole: Vec<(FileKind, String)> =
            texts.iter().map(|t| (t.kind, t.text.clone())).collect();
        // Parse once; only a file the SDK rejects is taken apart line by line.
        let sections = match parse_with_sdk(&whole) {
            Ok(sections) => sections,
            Err(_) => {
                let mut sanitized = Vec::with_capacity(texts.len());
                for text in texts {
                    let (clean, found) = blank_bad_lines(text);
                    note(found);
                    sanitized.push((text.kind, clean));
                }
                parse_with_sdk(&sanitized).unwrap_or_else(|message| {
                    // Each file was re-parsed until it was clean, so merging cannot fail; if a
                    // future SDK disagrees, say so rather than lose everything silently.
                    note(vec![(
                        None,
                        format!("the AWS config could not be parsed: {message}"),
                    )]);
                    EnvConfigSections::default()
                })
            }
        };

        let mut config = Self {
            warnings,
            ..Self::default()
        };
        for name in sections.profiles() {
            if let Some(p) = sections.get_profile(name) {
                config.profiles.insert(
                    name.to_owned(),
                    Profile {
                        name: name.to_owned(),
                        properties: copy_keys(PROFILE_KEYS, |k| p.get(k)),
                        problems: Vec::new(),
                    },
                );
            }
        }
        for name in sections.sso_sessions() {
            if let Some(s) = sections.sso_session(name) {
                config.sessions.insert(
                    name.to_owned(),
                    SsoSessionSection {
                        name: name.to_owned(),
                        properties: copy_keys(SESSION_KEYS, |k| s.get(k)),
                        problems: Vec::new(),
                    },
                );
            }
        }
        for profile in config.profiles.values_mut() {
            let what = format!("profile {}", profile.name);
            profile
                .problems
                .extend(region_problems(&what, &profile.properties));
        }
        for session in config.sessions.values_mut() {
            let what = format!("sso-session {}", session.name);
            session
                .problems
                .extend(region_problems(&what, &session.properties));
        }
        for (section, message) in problems {
            match section {
                SectionId::Profile(name) => config
                    .profiles
                    .entry(name.clone())
                    .or_insert_with(|| Profile {
                        name,
                        ..Profile::default()
                    })
                    .problems
                    .push(message),
                SectionId::Session(name) => config
                    .sessions
                    .entry(name.clone())
                    .or_insert_with(|| SsoSessionSection {
                        name,
                        ..SsoSessionSection::default()
                    })
                    .problems
                    .push(message),
                SectionId::Other => config.warnings.push(message),
            }
        }
        config
    }
}

/// True for a string shaped like an AWS region name: a prefix of two to four letters, words, a
/// number (`us-east-1`, `cn-north-1`, `us-gov-west-1`, `ap-southeast-7`, and the European
/// Sovereign Cloud's `eusc-de-east-1`). A shape, not a list, so that regions opened after this
/// release still pass; endpoints are built from it.
pub fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let [first, words @ .., number] = parts.as_slice() else {
        return false;
    };
    (2..=4).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !words.is_empty()
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The `region` and `sso_region` of a section that are not region names, as problems of it.
fn region_problems(what: &str, properties: &BTreeMap<String, String>) -> Vec<String> {
    ["sso_region", "region"]
        .into_iter()
        .filter_map(|key| {
            let value = properties.get(key)?;
            (!is_region_name(value)).then(|| {
                format!(
                    "{what} has {key} = {}, which is not an AWS region (like us-east-1 or cn-north-1); fix it in the AWS config",
                    crate::util::text::printable(value)
                )
            })
        })
        .collect()
}

fn copy_keys<'a>(keys: &[&str], get: impl Fn(&str) -> Option<&'a str>) -> BTreeMap<String, String> {
    keys.iter()
        .filter_map(|k| get(k).map(|v| ((*k).to_owned(), v.trim().to_owned())))
        .collect()
}

/// Which section a header line opens, leniently (the header may be the malformed line).
fn section_of_header(line: &str, kind: FileKind) -> SectionId {
    let inner = line.trim().trim_start_matches('[');
    let inner = inner.split(']').next().unwrap_or(inner).trim();
    let mut words = inner.split_whitespace();
    let (first, second) = (words.next(), words.next());
    match (kind, first, second) {
        (FileKind::Config, Some("profile"), Some(name)) => SectionId::Profile(name.to_owned()),
        (FileKind::Config, Some("sso-session"), Some(name)) => SectionId::Session(name.to_owned()),
        (FileKind::Config, Some(name), None) => SectionId::Profile(name.to_owned()),
        (FileKind::Credentials, Some(name), None) => SectionId::Profile(name.to_owned()),
        _ => SectionId::Other,
    }
}

type Found = Vec<(Option<SectionId>, String)>;

/// `[name]` sections in the config file: the SDK drops them with only a log line, but people
/// who write them mean a profile.
fn unprefixed_sections(file: &ConfigText) -> Found {
    if file.kind != FileKind::Config {
        return Vec::new();
    }
    let path = file.path.display();
    file.text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with('['))
        .filter(|(_, line)| !line.trim_start_matches('[').trim_start().starts_with("profile"))
        .filter_map(|(i, line)| match section_of_header(line, file.kind) {
            SectionId::Profile(name) if name != "default" => Some((
                Some(SectionId::Profile(name.clone())),
                format!(
                    "{path}:{}: section [{name}] is ignored by the AWS tools; in the config file write [profile {name}]",
                    i + 1
                ),
            )),
            _ => None,
        })
        .collect()
}

/// Lines the SDK parser is given at once while looking for the next bad one; it doubles after
/// each clean stretch up to [`MAX_STRETCH`] and starts small again after a bad line, so that a
/// file of garbage costs a parse of a few lines per bad line, not of the whole file.
const MIN_STRETCH: usize = 16;
const MAX_STRETCH: usize = 4096;

/// Blanks every line the SDK parser rejects, so the rest of the file still parses, and says
/// which section each problem belongs to. Line numbers are preserved.
///
/// The SDK parser reads line by line and its only state is the section it is in and the
/// property it last read (continuation lines belong to it); a rejected line changes neither.
/// So the rest of the file is checked a stretch at a time, each stretch after those two lines,
/// rather than the whole file again after every bad line.
fn blank_bad_lines(file: &ConfigText) -> (String, Found) {
    let mut lines: Vec<String> = file.text.lines().map(str::to_owned).collect();
    let mut found: Found = Vec::new();
    let path = file.path.display();
    let mut state = ParserState::default();
    let mut start = 0;
    let mut stretch = MIN_STRETCH;
    while start < lines.len() {
        let end = lines.len().min(start + stretch);
        let context: Vec<&str> = state.lines().map(|i| lines[i].as_str()).collect();
        let text = context
            .iter()
            .copied()
            .chain(lines[start..end].iter().map(String::as_str))
            .collect::<Vec<&str>>()
            .join("\n");
        let Err(message) = parse_with_sdk(&[(file.kind, text)]) else {
            state.read(&lines, start..end);
            start = end;
            stretch = (stretch * 2).min(MAX_STRETCH);
            continue;
        };
        let Some((number, what)) = error_location(&message) else {
            found.push((None, format!("{path}: {message}")));
            return (String::new(), found);
        };
        // The context lines parsed before; an error there or past the stretch is not ours to
        // mend: keep nothing rather than loop.
        let index = (number > context.len())
            .then(|| start + number - context.len() - 1)
            .filter(|&i| i < end && !is_blank(&lines[i]));
        let Some(index) = index else {
            let line_number = start + number.saturating_sub(context.len());
            found.push((None, format!("{path}:{line_number}: {what}")));
            return (String::new(), found);
        };
        state.read(&lines, start..index);
        let header = if lines[index].starts_with('[') {
            Some(index)
        } else {
            state.header
        };
        let section = header.map(|h| section_of_header(&lines[h], file.kind));
        found.push((section, format!("{path}:{}: {what}", index + 1)));
        let broken_header = lines[index].starts_with('[');
        lines[index].clear();
        start = index + 1;
        if broken_header {
            // Its properties would otherwise be read as the previous section's.
            while start < lines.len() && !lines[start].starts_with('[') {
                lines[start].clear();
                start += 1;
            }
        }
        stretch = MIN_STRETCH;
    }
    (lines.join("\n"), found)
}

/// Where the SDK parser stands after the lines read so far: the section header it is in and
/// the property it last read, as indexes of lines known to parse.
#[derive(Clone, Copy, Debug, Default)]
struct ParserState {
    header: Option<usize>,
    property: Option<usize>,
}

impl ParserState {
    /// The lines that put a fresh parser in this state.
    fn lines(self) -> impl Iterator<Item = usize> {
        self.header.into_iter().chain(self.property)
    }

    /// Follows lines that parsed, classified as the SDK parser classifies them.
    fn read(&mut self, lines: &[String], range: std::ops::Range<usize>) {
        for i in range {
            let line = &lines[i];
            if is_blank(line) || line.starts_with(['#', ';']) {
                continue;
            }
            if line.starts_with('[') {
                *self = Self {
                    header: Some(i),
                    property: None,
                };
            } else if !line.starts_with([' ', '\t']) {
                self.property = Some(i);
            }
        }
    }
}

/// A line the SDK parser skips as empty: only spaces and tabs are blank to it, not every
/// Unicode space (it rejects a line of U+00A0 as a property without `=`).
fn is_blank(line: &str) -> bool {
    line.trim_matches([' ', '\t']).is_empty()
}

/// `(line, message)` out of the SDK's "error parsing PATH on line N:\n  MESSAGE".
fn error_location(message: &str) -> Option<(usize, String)> {
    let rest = message.split(" on line ").nth(1)?;
    let (number, what) = rest.split_once(':')?;
    Some((number.trim().parse().ok()?, what.trim().to_owned()))
}

fn parse_with_sdk(files: &[(FileKind, String)]) -> Result<EnvConfigSections, String> {
    if files.is_empty() {
        return Ok(EnvConfigSections::default());
    }
    let mut builder = EnvConfigFiles::builder();
    for (kind, text) in files {
        let kind = match kind {
            FileKind::Config => EnvConfigFileKind::Config,
            FileKind::Credentials => EnvConfigFileKind::Credentials,
        };
        builder = builder.with_contents(kind, text.clone());
    }
    let files = builder.build();
    let (env, fs) = (ShimEnv::from_slice(&[]), ShimFs::from_slice(&[]));
    // Over contents in memory, `source::load` does no I/O and never waits.
    let source = block_on_ready(source::load(&env, &fs, &files)).map_err(|e| e.to_string())?;
    EnvConfigSections::parse(source).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::config;
    use crate::config::profiles::ProfileKind;

    #[test]
    fn a_malformed_line_breaks_only_its_profile() {
        let c = config(
            "[profile good]\nregion = eu-west-1\n[profile bad]\nregion = eu-west-2\nthis line has no equals\n[profile after]\nregion = eu-west-3\n",
        );
        assert_eq!(c.profile("good").unwrap().get("region"), Some("eu-west-1"));
        assert_eq!(c.profile("after").unwrap().get("region"), Some("eu-west-3"));
        let bad = c.profile("bad").unwrap();
        assert_eq!(bad.get("region"), Some("eu-west-2"));
        assert_eq!(
            bad.problems,
            ["/h/.aws/config:5: Expected an '=' sign defining a property"]
        );
        assert_eq!(
            c.require_profile("bad").unwrap_err().to_string(),
            "/h/.aws/config:5: Expected an '=' sign defining a property"
        );
    }

    #[test]
    fn a_broken_header_takes_its_lines_along() {
        let c = config(
            "[profile a]\nregion = eu-west-1\n[profile broken\nregion = eu-north-1\n[profile b]\nregion = eu-west-2\n",
        );
        assert_eq!(c.profile("a").unwrap().get("region"), Some("eu-west-1"));
        assert_eq!(c.profile("b").unwrap().get("region"), Some("eu-west-2"));
        let broken = c.profile("broken").unwrap();
        assert_eq!(broken.get("region"), None);
        assert!(broken.problems[0].starts_with("/h/.aws/config:3: "));
    }

    #[test]
    fn lines_after_a_bad_one_are_read_in_the_same_place() {
        // A continuation after a bad line still belongs to the property before it, sub-property
        // rules included; one with no property before it in its section is bad itself.
        let c = config(
            "[profile a]\ns3 =\n  max_concurrent_requests = 1\nbad line\n  multipart = 2\n\
             [profile b]\nstill bad\n  orphan = 3\nregion = eu-west-2\n",
        );
        assert_eq!(
            c.profile("a").unwrap().problems,
            ["/h/.aws/config:4: Expected an '=' sign defining a property"]
        );
        let b = c.profile("b").unwrap();
        assert_eq!(b.get("region"), Some("eu-west-2"));
        assert_eq!(b.problems.len(), 2, "{:?}", b.problems);
        assert!(
            b.problems[1].starts_with("/h/.aws/config:8: "),
            "{:?}",
            b.problems
        );
    }

    #[test]
    fn a_line_of_unicode_spaces_costs_only_its_own_profile() {
        // Found by fuzzing: the SDK rejects U+0085 (and U+00A0, U+2003, ...) as a property line
        // while Rust's `trim` takes it for blank; the whole file was given up on.
        for space in ["\u{85}", "\u{a0}", "\u{2003}", "\u{3000}"] {
            let c = config(&format!(
                "[profile a]\nregion = eu-west-1\n\n[profile b]\nregion = eu-west-1\n{space}\n\n\
                 [profile c]\nregion = eu-west-1\n"
            ));
            for name in ["a", "c"] {
                let profile = c.profile(name).expect("the other profiles are still there");
                assert!(
                    profile.problems.is_empty(),
                    "{space:?}: {:?}",
                    profile.problems
                );
            }
            let b = c.profile("b").expect("the broken profile is there");
            assert_eq!(b.problems.len(), 1, "{space:?}: {:?}", b.problems);
            assert!(
                b.problems[0].starts_with("/h/.aws/config:6: "),
                "{:?}",
                b.problems
            );
            assert_eq!(b.get("region"), Some("eu-west-1"));
        }
    }

    #[test]
    fn every_bad_line_of_a_long_file_is_found_once() {
        let mut text = String::from("stray before any section\n[profile junk]\n");
        for i in 0..5_000 {
            text.push_str(if i % 7 == 0 { "ok = 1\n" } else { "junk\n" });
        }
        text.push_str("[profile good]\nregion = eu-west-1\n");
        let c = config(&text);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert_eq!(
            c.profile("junk").unwrap().problems.len(),
            5_000 - 5_000usize.div_ceil(7)
        );
        assert_eq!(c.profile("junk").unwrap().get("region"), None);
        let good = c.profile("good").unwrap();
        assert_eq!(good.get("region"), Some("eu-west-1"));
        assert!(good.problems.is_empty());
    }

    #[test]
    fn region_names_are_checked_by_shape() {
        for good in [
            "us-east-1",
            "cn-north-1",
            "us-gov-west-1",
            "eu-central-2",
            "ap-southeast-7",
            "us-isob-east-1",
            "eusc-de-east-1",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in [
            "",
            "us-east",
            "useast1",
            "US-EAST-1",
            "us-east-1a",
            "u-east-1",
            "europe-east-1",
            "us--east-1",
            "us-east-1 ",
            "us-east-1.evil.com",
            "eu_west_1",
            "-us-east-1",
            "us-1",
        ] {
            assert!(!is_region_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_bad_region_makes_its_profile_or_session_misconfigured() {
        let c = config(
            "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east\n\
             [profile viasession]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n\
             [profile typo]\nregion = eu-west-1.amazonaws.com\n\
             [profile fine]\nregion = cn-north-1\n",
        );
        assert_eq!(
            c.require_profile("typo").unwrap_err().to_string(),
            "profile typo has region = eu-west-1.amazonaws.com, which is not an AWS region (like us-east-1 or cn-north-1); fix it in the AWS config"
        );
        assert_eq!(
            c.session_for_profile("viasession").unwrap_err().to_string(),
            "sso-session corp has sso_region = us-east, which is not an AWS region (like us-east-1 or cn-north-1); fix it in the AWS config"
        );
        assert!(c.require_profile("fine").is_ok());
    }

    #[test]
    fn unprefixed_sections_in_the_config_file_are_explained() {
        let c = config("[work]\nregion = eu-west-1\n");
        let work = c.profile("work").unwrap();
        assert!(
            work.problems[0].contains("write [profile work]"),
            "{:?}",
            work.problems
        );
    }

    #[test]
    fn credentials_file_profiles_merge_in() {
        let c = AwsConfig::parse(&[
            ConfigText {
                path: "c".into(),
                kind: FileKind::Config,
                text: "[profile k]\nregion = eu-west-1\n".into(),
            },
            ConfigText {
                path: "k".into(),
                kind: FileKind::Credentials,
                text: "[k]\naws_access_key_id = AKIA\n[only-here]\naws_access_key_id = AKIB\n"
                    .into(),
            },
        ]);
        assert_eq!(c.profile("k").unwrap().kind(), ProfileKind::Static);
        assert_eq!(c.profile("only-here").unwrap().kind(), ProfileKind::Static);
    }

    #[test]
    fn profile_default_wins_over_default() {
        let c = config("[default]\nregion = eu-west-1\n[profile default]\nregion = eu-west-2\n");
        assert_eq!(
            c.profile("default").unwrap().get("region"),
            Some("eu-west-2")
        );
    }
}
