//! `ssobar populate`: a profile for every account and role of an sso-session, written into the
//! AWS config between two marker lines that ssobar owns, everything else in the file byte for
//! byte as it was.
//!
//! [`populate`] is a function of data: the file's bytes and a [`PopulateRequest`] in, the new
//! bytes and a [`PopulateReport`] out. It is idempotent: run again on its own output with the
//! same request it returns the same bytes. A session's block looks like this (the lines take the
//! file's line ending, CRLF when most of the file's own lines end so):
//!
//! ```text
//! # BEGIN ssobar populate: sso-session "corp" (ssobar rewrites these lines; edit outside them)
//! [profile prod-Admin]
//! sso_session = corp
//! sso_account_id = 111122223333
//! sso_role_name = Admin
//! region = us-east-1
//! # END ssobar populate: sso-session "corp"
//! ```
//!
//! A new block goes at the end of the file, after one blank line; a file whose last line has
//! no line ending gets one first, the only byte ever added outside a block.
//!
//! [`populate_file`] and [`add_profile`] apply it to the config file under a cross-process
//! lock, reading the file again under the lock so that a concurrent edit is not lost.

use crate::config::edit::{self, EditError, Line, edit_file, split_lines};
use crate::paths::Paths;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;

/// The template of profile names when none is given.
pub const DEFAULT_TEMPLATE: &str = "{account_name}-{role_name}";

const BEGIN: &str = "# BEGIN ssobar populate:";
const END: &str = "# END ssobar populate:";
const BEGIN_TAIL: &str = " (ssobar rewrites these lines; edit outside them)";

/// One role in one account, as the portal lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleAssignment {
    /// The 12-digit account id.
    pub account_id: String,
    /// The account's name, when the portal gives one.
    pub account_name: Option<String>,
    /// The role (permission set) name.
    pub role_name: String,
}

/// A profile-name template: text with `{account_name}`, `{account_id}`, `{role_name}` and
/// `{sso_session}` in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    AccountName,
    AccountId,
    RoleName,
    SsoSession,
}

/// A template that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A placeholder that is not one of the four.
    #[error(
        "the template has an unknown placeholder {{{0}}}; use {{account_name}}, {{account_id}}, {{role_name}} or {{sso_session}}"
    )]
    UnknownPlaceholder(String),
    /// A `{` with no `}` after it, or a `}` with no `{` before it.
    #[error("the template has an unmatched \"{0}\"; placeholders look like {{account_name}}")]
    Unmatched(char),
}

impl Template {
    /// Reads a template.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}']) {
            literal.push_str(&rest[..at]);
            if rest[at..].starts_with('}') {
                return Err(TemplateError::Unmatched('}'));
            }
            let after = &rest[at + 1..];
            let close = after.find('}').ok_or(TemplateError::Unmatched('{'))?;
            let part = match &after[..close] {
                "account_name" => Part::AccountName,
                "account_id" => Part::AccountId,
                "role_name" => Part::RoleName,
                "sso_session" => Part::SsoSession,
                other => return Err(TemplateError::UnknownPlaceholder(other.to_owned())),
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = &after[close + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The name of `role` before sanitising; the account's id stands for a name the portal
    /// does not give.
    fn render(&self, role: &RoleAssignment, session: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            out.push_str(match part {
                Part::Text(text) => text,
                Part::AccountName => role.account_name.as_deref().unwrap_or(&role.account_id),
                Part::AccountId => &role.account_id,
                Part::RoleName => &role.role_name,
                Part::SsoSession => session,
            });
        }
        out
    }
}

impl Default for Template {
    /// [`DEFAULT_TEMPLATE`].
    fn default() -> Self {
        Self {
            parts: vec![
                Part::AccountName,
                Part::Text("-".to_owned()),
                Part::RoleName,
            ],
        }
    }
}

/// `raw` as a profile name the AWS CLI and botocore accept in a `[profile NAME]` header and
/// after `--profile`: ASCII letters, digits and `-_.+@=,` are kept, anything else (spaces,
/// `/`, `]`, `#`, quotes, non-ASCII) becomes `-`, runs of `-` become one, and `-` is trimmed
/// from both ends. The result may be empty.
pub fn sanitize_profile_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || "-_.+@=,".contains(c) {
            c
        } else {
            '-'
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_matches('-').to_owned()
}

/// What becomes of the profiles in the session's block whose account and role the request
/// does not list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlisted {
    /// The request lists every role of the session: the others are gone from the portal, and
    /// are kept, reported as stale.
    KeepAsStale,
    /// The request lists every role of the session: the others are removed (`--prune`).
    Prune,
    /// The request lists only roles to add: the others stay as they are, unreported.
    LeaveAlone,
}

/// What to write into the session's block.
#[derive(Clone, Debug)]
pub struct PopulateRequest {
    /// The `[sso-session]` name.
    pub session: String,
    /// The roles to write a profile for, in any order.
    pub roles: Vec<RoleAssignment>,
    /// How profiles are named.
    pub template: Template,
    /// The `region` of every profile.
    pub region: String,
    /// What becomes of the block's other profiles.
    pub unlisted: Unlisted,
}

/// What a profile written for a role amounts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// New in the block.
    Added,
    /// In the block already, with other settings (its region, say).
    Updated,
    /// In the block already, as it is.
    Unchanged,
    /// In the block already under another name (the account's name or the template changed).
    Renamed {
        /// The name it had.
        from: String,
    },
}

/// A profile in the block, and the role it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileEntry {
    /// The profile name.
    pub name: String,
    /// `sso_account_id`.
    pub account_id: String,
    /// `sso_role_name`.
    pub role_name: String,
}

/// A profile written for a listed role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The profile and its role.
    pub profile: ProfileEntry,
    /// What changed.
    pub change: Change,
    /// The name the template gave, when another role had it first and this one got the
    /// account id appended.
    pub wanted: Option<String>,
}

/// Who has the name a role would get, outside the session's block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A profile a person wrote in the config.
    HandWritten,
    /// A profile of the shared credentials file, which the SDKs merge with the config's
    /// profile of the same name.
    CredentialsFile,
    /// A profile in the block of another sso-session.
    Session(String),
}

/// A role left without a profile, because its name is taken outside the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collision {
    /// The name, and the role that would have had it.
    pub profile: ProfileEntry,
    /// Who has it.
    pub owner: Owner,
}

/// What [`populate`] did, or would do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PopulateReport {
    /// A profile for each listed role that has one, in the block's order.
    pub written: Vec<Written>,
    /// Profiles kept though their role is no longer listed ([`Unlisted::KeepAsStale`]).
    pub stale: Vec<ProfileEntry>,
    /// Profiles removed because their role is no longer listed ([`Unlisted::Prune`]).
    pub removed: Vec<ProfileEntry>,
    /// Listed roles whose name is taken outside the block: no profile, the other left as it is.
    pub collisions: Vec<Collision>,
    /// Listed roles whose account id or role name could break the file (a line break, say):
    /// no profile.
    pub unusable: Vec<RoleAssignment>,
    /// Profiles of the block that the request left alone ([`Unlisted::LeaveAlone`]), and
    /// sections of the block that are not ssobar's profiles.
    pub left_alone: usize,
}

impl PopulateReport {
    /// How many written profiles changed this way.
    pub fn count(&self, change: fn(&Change) -> bool) -> usize {
        self.written.iter().filter(|w| change(&w.change)).count()
    }
}

/// The new file and what changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Populated {
    /// The whole file.
    pub bytes: Vec<u8>,
    /// What changed.
    pub report: PopulateReport,
}

/// Marker lines damaged by hand: nothing is written until a person mends them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkerError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong there.
    pub problem: MarkerProblem,
}

/// What is wrong with the marker lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkerProblem {
    /// An END line with no BEGIN line before it.
    EndWithoutBegin,
    /// A BEGIN line with no END line after it.
    BeginWithoutEnd,
    /// A BEGIN line inside another block.
    BeginInsideBlock,
    /// An END line naming another session than its BEGIN line.
    EndOfAnotherSession,
    /// A second block for the same session.
    SecondBlock,
    /// A marker line whose session cannot be read.
    Unreadable,
}

impl fmt::Display for MarkerProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EndWithoutBegin => "an \"# END ssobar populate\" line without its BEGIN line",
            Self::BeginWithoutEnd => "an \"# BEGIN ssobar populate\" line without its END line",
            Self::BeginInsideBlock => "an \"# BEGIN ssobar populate\" line inside another block",
            Self::EndOfAnotherSession => {
                "an \"# END ssobar populate\" line that names another sso-session than its BEGIN line"
            }
            Self::SecondBlock => "a second \"# BEGIN ssobar populate\" block for the same sso-session",
            Self::Unreadable => "an \"ssobar populate\" marker line whose sso-session cannot be read",
        })
    }
}

/// Why the config was not populated.
#[derive(Debug, thiserror::Error)]
pub enum PopulateError {
    /// The marker lines were damaged by hand.
    #[error(
        "{}:{}: {}; fix or delete the \"ssobar populate\" marker lines, then run \"ssobar populate\" again",
        path.display(), error.line, error.problem
    )]
    Markers {
        /// The config file.
        path: PathBuf,
        /// Where and what.
        error: MarkerError,
    },
    /// The region is not a region name.
    #[error(
        "\"{0}\" is not an AWS region (like us-east-1 or eu-west-1); pass another with --region"
    )]
    Region(String),
    /// The config could not be read, written or locked ([`edit_file`]'s errors).
    #[error(transparent)]
    Edit(#[from] EditError),
    /// [`add_profile`]: the role's profile name is taken outside the block.
    #[error(
        "{} already has a profile \"{name}\" that ssobar did not write; rename it, then add the profile again",
        path.display()
    )]
    NameTaken {
        /// The config file.
        path: PathBuf,
        /// The name.
        name: String,
    },
}

/// The new config and what changed: the session's block written for `request`, every byte
/// outside it as it was. `credentials` is the shared credentials file, whose profile names are
/// taken too. Errors only when marker lines were damaged by hand.
pub fn populate(
    config: &[u8],
    credentials: &[u8],
    request: &PopulateRequest,
) -> Result<Populated, MarkerError> {
    let lines = split_lines(config);
    let blocks = find_blocks(config, &lines)?;
    let ours = blocks.iter().find(|b| b.session == request.session);
    let eol = line_ending(&lines, &blocks, ours);

    // Names taken outside the block: hand-written profiles and other sessions' blocks.
    let mut owners: HashMap<String, Owner> = HashMap::new();
    for (index, line) in lines.iter().enumerate() {
        if ours.is_some_and(|b| (b.begin..=b.end).contains(&index)) {
            continue;
        }
        if let Some(Header::Profile(name)) = header(&line.content(config)) {
            let owner = match blocks.iter().find(|b| (b.begin..=b.end).contains(&index)) {
                Some(block) => Owner::Session(block.session.clone()),
                None => Owner::HandWritten,
            };
            owners.entry(name).or_insert(owner);
        }
    }
    for line in split_lines(credentials) {
        // The credentials file names its sections `[NAME]`, without `profile`.
        if let Some(name) = credentials_profile(&line.content(credentials)) {
            owners.entry(name).or_insert(Owner::CredentialsFile);
        }
    }

    let existing = match ours {
        Some(block) => block_sections(config, &lines[block.begin + 1..block.end]),
        None => Vec::new(),
    };
    let existing_by_role: HashMap<(&str, &str), &Section> = existing
        .iter()
        .filter_map(|s| {
            Some((
                (s.role.as_ref()?.0.as_str(), s.role.as_ref()?.1.as_str()),
                s,
            ))
        })
        .collect();

    let mut report = PopulateReport::default();
    let mut roles: Vec<&RoleAssignment> = Vec::new();
    let mut seen = HashSet::new();
    for role in &request.roles {
        if !usable(role) {
            report.unusable.push(role.clone());
        } else if seen.insert((role.account_id.as_str(), role.role_name.as_str())) {
            roles.push(role);
        }
    }
    roles.sort_by_cached_key(|r| order_key(r));
    let listed: HashSet<(&str, &str)> = roles
        .iter()
        .map(|r| (r.account_id.as_str(), r.role_name.as_str()))
        .collect();

    // The block's sections that stay as they are, whose names no new profile may take.
    let mut kept: Vec<&Section> = Vec::new();
    let mut dropped: Vec<ProfileEntry> = Vec::new();
    for section in &existing {
        match &section.role {
            Some((account, role)) if listed.contains(&(account.as_str(), role.as_str())) => {}
            Some((account, role)) => {
                let entry = ProfileEntry {
                    name: section.name.clone(),
                    account_id: account.clone(),
                    role_name: role.clone(),
                };
                match request.unlisted {
                    Unlisted::KeepAsStale => {
                        report.stale.push(entry);
                        kept.push(section);
                    }
                    Unlisted::Prune => dropped.push(entry),
                    Unlisted::LeaveAlone => {
                        report.left_alone += 1;
                        kept.push(section);
                    }
                }
            }
            None => {
                report.left_alone += 1;
                kept.push(section);
            }
        }
    }
    report.removed = dropped;

    let mut taken: HashSet<String> = owners.keys().cloned().collect();
    taken.extend(kept.iter().map(|s| s.name.clone()));
    let names = assign_names(request, &roles, &owners, &existing_by_role, taken);

    // The block: every profile in one order, by account name, id and role (a kept section by
    // its own name), so that the same request gives the same bytes.
    let mut items: Vec<(OrderKey, Vec<String>)> = Vec::new();
    for (role, naming) in roles.iter().zip(names) {
        let (name, wanted) = match naming {
            Naming::Taken(owner, name) => {
                report.collisions.push(Collision {
                    profile: entry(&name, role),
                    owner,
                });
                continue;
            }
            Naming::Own(name) => (name, None),
            Naming::Apart { name, wanted } => (name, Some(wanted)),
        };
        let lines = profile_lines(&name, role, &request.session, &request.region);
        let before = existing_by_role.get(&(role.account_id.as_str(), role.role_name.as_str()));
        let change = match before {
            None => Change::Added,
            Some(section) if section.name != name => Change::Renamed {
                from: section.name.clone(),
            },
            Some(section) if section.lines == lines => Change::Unchanged,
            Some(_) => Change::Updated,
        };
        report.written.push(Written {
            profile: entry(&name, role),
            change,
            wanted,
        });
        items.push((order_key(role), lines));
    }
    for section in &kept {
        let key = (section.name.to_lowercase(), String::new(), String::new());
        items.push((key, section.lines.clone()));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));

    let bytes = match ours {
        Some(block) => {
            let end_line = &lines[block.end];
            let end_eol = &config[end_line.content_end..end_line.end];
            let mut out = config[..lines[block.begin].start].to_vec();
            write_block(&mut out, &request.session, &items, eol, end_eol);
            out.extend_from_slice(&config[end_line.end..]);
            out
        }
        None if items.is_empty() => config.to_vec(),
        None => {
            let mut out = config.to_vec();
            if let Some(last) = lines.last() {
                if last.content_end == last.end {
                    out.extend_from_slice(eol.as_bytes());
                }
                if !last.content(config).trim().is_empty() {
                    out.extend_from_slice(eol.as_bytes());
                }
            }
            write_block(&mut out, &request.session, &items, eol, eol.as_bytes());
            out
        }
    };
    Ok(Populated { bytes, report })
}

/// The name a listed role gets.
enum Naming {
    /// The template's name is taken outside the block: no profile.
    Taken(Owner, String),
    /// The template's name.
    Own(String),
    /// Another role has the template's name: this one's is kept apart from it.
    Apart {
        /// The name given.
        name: String,
        /// The template's name.
        wanted: String,
    },
}

/// Names for `roles` (in their order). A name taken outside the block is a collision; the
/// names in `taken` (outside the block, and the block's kept sections) are never given; a
/// role that has its template name in the block keeps it; the others get the template's name,
/// or, when an earlier role has it, that name with the account id appended.
fn assign_names(
    request: &PopulateRequest,
    roles: &[&RoleAssignment],
    owners: &HashMap<String, Owner>,
    existing_by_role: &HashMap<(&str, &str), &Section>,
    mut taken: HashSet<String>,
) -> Vec<Naming> {
    let wanted: Vec<String> = roles
        .iter()
        .map(|r| {
            let name = sanitize_profile_name(&request.template.render(r, &request.session));
            if name.is_empty() {
                sanitize_profile_name(&format!("{}-{}", r.account_id, r.role_name))
            } else {
                name
            }
        })
        .collect();
    let mut names: Vec<Option<Naming>> = roles
        .iter()
        .zip(&wanted)
        .map(|(role, want)| {
            if let Some(owner) = owners.get(want) {
                return Some(Naming::Taken(owner.clone(), want.clone()));
            }
            let holds_it = existing_by_role
                .get(&(role.account_id.as_str(), role.role_name.as_str()))
                .is_some_and(|s| &s.name == want);
            (holds_it && taken.insert(want.clone())).then(|| Naming::Own(want.clone()))
        })
        .collect();
    for ((role, want), naming) in roles.iter().zip(wanted).zip(&mut names) {
        if naming.is_some() {
            continue;
        }
        *naming = Some(if taken.contains(&want) {
            let name = free_name(&want, role, &taken);
            taken.insert(name.clone());
            Naming::Apart { name, wanted: want }
        } else {
            taken.insert(want.clone());
            Naming::Own(want)
        });
    }
    names.into_iter().flatten().collect()
}

type OrderKey = (String, String, String);

/// Profiles go by account name (the id where there is none), then id, then role.
fn order_key(role: &RoleAssignment) -> OrderKey {
    let name = role.account_name.as_deref().unwrap_or(&role.account_id);
    (
        name.to_lowercase(),
        role.account_id.clone(),
        role.role_name.clone(),
    )
}

fn entry(name: &str, role: &RoleAssignment) -> ProfileEntry {
    ProfileEntry {
        name: name.to_owned(),
        account_id: role.account_id.clone(),
        role_name: role.role_name.clone(),
    }
}

/// An account id and role name that can go on a config line as they are: the portal's ids are
/// digits and its role names `[\w+=,.@-]`, so anything with a line break, a control character,
/// a comment sign or space at either end is not what AWS sent.
fn usable(role: &RoleAssignment) -> bool {
    let clean = |s: &str| {
        !s.is_empty() && s.trim() == s && !s.chars().any(|c| c.is_control() || c == '#' || c == ';')
    };
    clean(&role.account_id) && clean(&role.role_name)
}

/// `want` with the account id appended, then the role name, then a number, whichever is free.
fn free_name(want: &str, role: &RoleAssignment, taken: &HashSet<String>) -> String {
    let with_id = sanitize_profile_name(&format!("{want}-{}", role.account_id));
    let with_role = sanitize_profile_name(&format!("{with_id}-{}", role.role_name));
    for candidate in [with_id, with_role.clone()] {
        if !taken.contains(&candidate) {
            return candidate;
        }
    }
    (2..)
        .map(|n| format!("{with_role}-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(with_role)
}

fn profile_lines(name: &str, role: &RoleAssignment, session: &str, region: &str) -> Vec<String> {
    vec![
        format!("[profile {name}]"),
        format!("sso_session = {session}"),
        format!("sso_account_id = {}", role.account_id),
        format!("sso_role_name = {}", role.role_name),
        format!("region = {region}"),
    ]
}

fn write_block(
    out: &mut Vec<u8>,
    session: &str,
    items: &[(OrderKey, Vec<String>)],
    eol: &str,
    end_eol: &[u8],
) {
    let push_line = |out: &mut Vec<u8>, line: &str| {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(eol.as_bytes());
    };
    push_line(out, &begin_line(session));
    for (i, (_, lines)) in items.iter().enumerate() {
        if i > 0 {
            push_line(out, "");
        }
        for line in lines {
            push_line(out, line);
        }
    }
    out.extend_from_slice(end_line(session).as_bytes());
    out.extend_from_slice(end_eol);
}

fn begin_line(session: &str) -> String {
    format!("{BEGIN} sso-session \"{session}\"{BEGIN_TAIL}")
}

fn end_line(session: &str) -> String {
    format!("{END} sso-session \"{session}\"")
}

/// One session's block: the line indexes of its BEGIN and END lines.
#[derive(Debug)]
struct Block {
    session: String,
    begin: usize,
    end: usize,
}

enum Marker {
    Begin(Option<String>),
    End(Option<String>),
}

fn marker(line: &str) -> Option<Marker> {
    let line = line.trim();
    let session = |rest: &str| -> Option<String> {
        let rest = rest.trim_start().strip_prefix("sso-session \"")?;
        let name = rest
            .strip_suffix(&format!("\"{BEGIN_TAIL}"))
            .or_else(|| rest.strip_suffix('"'))
            .or_else(|| rest.rsplit_once('"').map(|(name, _)| name))?;
        Some(name.to_owned())
    };
    if let Some(rest) = line.strip_prefix(BEGIN) {
        Some(Marker::Begin(session(rest)))
    } else {
        line.strip_prefix(END)
            .map(|rest| Marker::End(session(rest)))
    }
}

fn find_blocks(bytes: &[u8], lines: &[Line]) -> Result<Vec<Block>, MarkerError> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut open: Option<(String, usize)> = None;
    for (index, line) in lines.iter().enumerate() {
        let fail = |problem| {
            Err(MarkerError {
                line: index + 1,
                problem,
            })
        };
        match marker(&line.content(bytes)) {
            None => {}
            Some(Marker::Begin(None) | Marker::End(None)) => {
                return fail(MarkerProblem::Unreadable);
            }
            Some(Marker::Begin(Some(session))) => {
                if open.is_some() {
                    return fail(MarkerProblem::BeginInsideBlock);
                }
                if blocks.iter().any(|b| b.session == session) {
                    return fail(MarkerProblem::SecondBlock);
                }
                open = Some((session, index));
            }
            Some(Marker::End(Some(session))) => match open.take() {
                None => return fail(MarkerProblem::EndWithoutBegin),
                Some((begun, _)) if begun != session => {
                    return fail(MarkerProblem::EndOfAnotherSession);
                }
                Some((session, begin)) => blocks.push(Block {
                    session,
                    begin,
                    end: index,
                }),
            },
        }
    }
    match open {
        Some((_, begin)) => Err(MarkerError {
            line: begin + 1,
            problem: MarkerProblem::BeginWithoutEnd,
        }),
        None => Ok(blocks),
    }
}

/// The file's line ending: CRLF when more of its own lines (outside every block) end in CRLF
/// than in LF; else the block's own, for a file that is all block; else LF.
fn line_ending(lines: &[Line], blocks: &[Block], ours: Option<&Block>) -> &'static str {
    let (mut crlf, mut lf) = (0usize, 0usize);
    for (index, line) in lines.iter().enumerate() {
        if line.end == line.content_end || blocks.iter().any(|b| (b.begin..=b.end).contains(&index))
        {
            continue;
        }
        if line.ends_in_crlf() {
            crlf += 1;
        } else {
            lf += 1;
        }
    }
    if crlf + lf == 0 {
        if let Some(block) = ours
            && lines[block.begin].ends_in_crlf()
        {
            return "\r\n";
        }
        return "\n";
    }
    if crlf > lf { "\r\n" } else { "\n" }
}

enum Header {
    Profile(String),
    Other,
}

/// The section a line opens, read as the SDKs read it: `[default]` and `[profile NAME]` are
/// profiles, any other `[...]` another kind of section.
fn header(line: &str) -> Option<Header> {
    let inner = line.trim().strip_prefix('[')?;
    let inner = inner[..inner.find(']')?].trim();
    if inner == "default" {
        return Some(Header::Profile("default".to_owned()));
    }
    match inner.strip_prefix("profile") {
        Some(rest) if rest.starts_with(char::is_whitespace) => {
            Some(Header::Profile(rest.trim().to_owned()))
        }
        _ => Some(Header::Other),
    }
}

/// The profile a line of the credentials file opens, if it opens one.
fn credentials_profile(line: &str) -> Option<String> {
    let inner = line.trim().strip_prefix('[')?;
    let name = inner[..inner.find(']')?].trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// A section of the session's block: its name, the role it is for (when it has both
/// `sso_account_id` and `sso_role_name`), and its lines without trailing blank ones.
#[derive(Debug)]
struct Section {
    name: String,
    role: Option<(String, String)>,
    lines: Vec<String>,
}

fn block_sections(bytes: &[u8], lines: &[Line]) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    // The current section's keys; `None` in a section that is not a profile.
    let mut fields: Option<BTreeMap<String, String>> = None;
    let finish = |sections: &mut Vec<Section>, fields: Option<BTreeMap<String, String>>| {
        if let Some(section) = sections.last_mut() {
            while section.lines.last().is_some_and(|l| l.trim().is_empty()) {
                section.lines.pop();
            }
            if let Some(fields) = fields
                && let (Some(account), Some(role)) =
                    (fields.get("sso_account_id"), fields.get("sso_role_name"))
            {
                section.role = Some((account.clone(), role.clone()));
            }
        }
    };
    for line in lines {
        let text = line.content(bytes).into_owned();
        match header(&text) {
            Some(found) => {
                finish(&mut sections, fields.take());
                let name = match found {
                    Header::Profile(name) => {
                        fields = Some(BTreeMap::new());
                        name
                    }
                    // Not a profile, so never one of ssobar's: kept, known by its header.
                    Header::Other => text.trim().to_owned(),
                };
                sections.push(Section {
                    name,
                    role: None,
                    lines: vec![text],
                });
            }
            // Lines before the block's first section are ssobar's own: dropped.
            None => {
                if let Some(section) = sections.last_mut() {
                    if let Some(fields) = fields.as_mut()
                        && let Some((key, value)) = text.split_once('=')
                    {
                        fields.insert(key.trim().to_owned(), value.trim().to_owned());
                    }
                    section.lines.push(text);
                }
            }
        }
    }
    finish(&mut sections, fields);
    sections
}

/// What a write did, or would do.
#[derive(Clone, Debug)]
pub struct PopulateOutcome {
    /// The config file, as the environment names it.
    pub path: PathBuf,
    /// Its bytes before (empty when it did not exist).
    pub before: Vec<u8>,
    /// Its bytes after (or as they would be).
    pub after: Vec<u8>,
    /// What changed.
    pub report: PopulateReport,
}

impl PopulateOutcome {
    /// Whether the file's bytes change.
    pub fn changes(&self) -> bool {
        self.before != self.after
    }
}

/// Whether to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Apply {
    /// Compute, write nothing (`--dry-run`).
    DryRun,
    /// Write the file when its bytes change.
    Write,
}

/// [`populate`] applied to the AWS config (`AWS_CONFIG_FILE`, else `~/.aws/config`), the
/// shared credentials file's profile names taken too.
///
/// With [`Apply::Write`] the file is read under a lock that every ssobar writing it takes,
/// and read again just before the write, so that neither another ssobar nor an editor that
/// saved it meanwhile loses its change. The write is atomic (a temp file in the same folder,
/// fsynced, renamed), 0600 or the file's own mode where that is stricter; a config that is a
/// symlink stays one, and the file it leads to gets the new bytes. Nothing is written when the
/// bytes do not change.
pub fn populate_file(
    paths: &Paths,
    request: &PopulateRequest,
    apply: Apply,
) -> Result<PopulateOutcome, PopulateError> {
    if !crate::config::is_region_name(&request.region) {
        return Err(PopulateError::Region(request.region.clone()));
    }
    let path = &paths.config_file;
    // Read once: only the config is ssobar's to change, and the lock guards only it.
    let credentials = match std::fs::read(&paths.credentials_file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(EditError::Read {
                path: paths.credentials_file.clone(),
                source,
            }
            .into());
        }
    };
    let compute = |before: &[u8]| -> Result<(Vec<u8>, PopulateReport), PopulateError> {
        let populated =
            populate(before, &credentials, request).map_err(|error| PopulateError::Markers {
                path: path.clone(),
                error,
            })?;
        Ok((populated.bytes, populated.report))
    };
    let edited = match apply {
        Apply::DryRun => {
            let before = edit::read_config(paths)?;
            let (after, report) = compute(&before)?;
            edit::Edited {
                path: path.clone(),
                before,
                after,
                outcome: report,
            }
        }
        Apply::Write => edit_file(paths, compute)?,
    };
    Ok(PopulateOutcome {
        path: edited.path,
        before: edited.before,
        after: edited.after,
        report: edited.outcome,
    })
}

/// Writes a profile for one role into `session`'s block (the tray's "Add profile"), named
/// by [`DEFAULT_TEMPLATE`], with the block's other profiles left as they are; `region` is the
/// profile's `region`. Returns the profile's name; a name already taken outside the block is
/// an error, and the other profile is left as it is.
pub fn add_profile(
    paths: &Paths,
    session: &str,
    role: &RoleAssignment,
    region: &str,
) -> Result<String, PopulateError> {
    let request = PopulateRequest {
        session: session.to_owned(),
        roles: vec![role.clone()],
        template: Template::default(),
        region: region.to_owned(),
        unlisted: Unlisted::LeaveAlone,
    };
    let outcome = populate_file(paths, &request, Apply::Write)?;
    if let Some(collision) = outcome.report.collisions.first() {
        return Err(PopulateError::NameTaken {
            path: outcome.path,
            name: collision.profile.name.clone(),
        });
    }
    match outcome.report.written.into_iter().next() {
        Some(written) => Ok(written.profile.name),
        None => Err(EditError::Write {
            path: outcome.path,
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the portal gave an account id or role name that cannot go into the config",
            ),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::paths_in;
    use proptest::prelude::*;
    use std::path::Path;
    use std::time::Duration;

    fn role(id: &str, name: Option<&str>, role: &str) -> RoleAssignment {
        RoleAssignment {
            account_id: id.to_owned(),
            account_name: name.map(str::to_owned),
            role_name: role.to_owned(),
        }
    }

    fn organisation() -> Vec<RoleAssignment> {
        vec![
            role("111111111111", Some("prod"), "Admin"),
            role("111111111111", Some("prod"), "ReadOnly"),
            role("222222222222", Some("dev"), "Admin"),
        ]
    }

    fn request(roles: Vec<RoleAssignment>, unlisted: Unlisted) -> PopulateRequest {
        PopulateRequest {
            session: "corp".to_owned(),
            roles,
            template: Template::default(),
            region: "eu-west-1".to_owned(),
            unlisted,
        }
    }

    fn run(config: &[u8], request: &PopulateRequest) -> Populated {
        populate(config, b"", request).unwrap()
    }

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    /// The bytes before the session's BEGIN line and after its END line (with its line ending).
    fn outside<'a>(bytes: &'a [u8], session: &str) -> (&'a [u8], &'a [u8]) {
        let text = text(bytes);
        let begin = text.find(&begin_line(session)).expect("a BEGIN line");
        let end_at = text.find(&end_line(session)).expect("an END line") + end_line(session).len();
        let rest = &text[end_at..];
        let after = rest
            .strip_prefix("\r\n")
            .or_else(|| rest.strip_prefix('\n'))
            .unwrap_or(rest);
        (&bytes[..begin], after.as_bytes())
    }

    const HAND_WRITTEN: &str = "# my profiles, keep this comment\r\n\
        [default]\r\n\
        region = us-east-1\r\n\
        \r\n\
        ; an old-style comment\n\
        [profile dev-Admin]\r\n\
        aws_access_key_id = AKIAEXAMPLE\r\n\
        \r\n\
        \r\n\
        [sso-session corp]\r\n\
        sso_start_url = https://corp.awsapps.com/start\r\n\
        sso_region = us-east-1\r\n\
        [profile tail]\r\n\
        region = us-west-2";

    #[test]
    fn everything_outside_the_block_stays_byte_for_byte_and_a_new_block_goes_at_the_end() {
        let first = run(
            HAND_WRITTEN.as_bytes(),
            &request(organisation(), Unlisted::KeepAsStale),
        );
        let (before, after) = outside(&first.bytes, "corp");
        // The last line gets its line ending and one blank line parts it from the block.
        assert_eq!(text(before), format!("{HAND_WRITTEN}\r\n\r\n"));
        assert_eq!(after, b"");

        let mut fewer = organisation();
        fewer.pop();
        fewer.push(role("333333333333", Some("test"), "Admin"));
        let second = run(&first.bytes, &request(fewer, Unlisted::Prune));
        assert_eq!(
            outside(&second.bytes, "corp"),
            outside(&first.bytes, "corp")
        );
    }

    #[test]
    fn a_block_in_the_middle_is_replaced_in_place() {
        let config = format!(
            "[profile a]\nregion = us-east-1\n\n{}\n[profile old]\nsso_account_id = 9\n{}\n# after\n[profile z]\n",
            begin_line("corp"),
            end_line("corp")
        );
        let out = run(config.as_bytes(), &request(organisation(), Unlisted::Prune));
        let (before, after) = outside(&out.bytes, "corp");
        assert_eq!(text(before), "[profile a]\nregion = us-east-1\n\n");
        assert_eq!(text(after), "# after\n[profile z]\n");
    }

    #[test]
    fn the_block_has_one_profile_per_role_in_account_name_order() {
        let out = run(b"", &request(organisation(), Unlisted::KeepAsStale));
        assert_eq!(
            text(&out.bytes),
            "# BEGIN ssobar populate: sso-session \"corp\" (ssobar rewrites these lines; edit outside them)\n\
             [profile dev-Admin]\n\
             sso_session = corp\n\
             sso_account_id = 222222222222\n\
             sso_role_name = Admin\n\
             region = eu-west-1\n\
             \n\
             [profile prod-Admin]\n\
             sso_session = corp\n\
             sso_account_id = 111111111111\n\
             sso_role_name = Admin\n\
             region = eu-west-1\n\
             \n\
             [profile prod-ReadOnly]\n\
             sso_session = corp\n\
             sso_account_id = 111111111111\n\
             sso_role_name = ReadOnly\n\
             region = eu-west-1\n\
             # END ssobar populate: sso-session \"corp\"\n"
        );
        assert_eq!(out.report.count(|c| *c == Change::Added), 3);
    }

    #[test]
    fn a_second_run_gives_the_same_bytes_and_reports_nothing_changed() {
        let req = request(organisation(), Unlisted::KeepAsStale);
        let first = run(HAND_WRITTEN.as_bytes(), &req);
        let second = run(&first.bytes, &req);
        assert_eq!(second.bytes, first.bytes);
        assert_eq!(second.report.count(|c| *c == Change::Unchanged), 2);
        assert_eq!(second.report.count(|c| *c != Change::Unchanged), 0);
    }

    #[test]
    fn the_block_takes_the_files_line_ending() {
        let crlf = "[profile a]\r\nregion = us-east-1\r\n";
        let out = run(crlf.as_bytes(), &request(organisation(), Unlisted::Prune));
        let block = &text(&out.bytes)[crlf.len()..];
        assert!(block.starts_with("\r\n# BEGIN"), "{block:?}");
        assert_eq!(block.matches('\n').count(), block.matches("\r\n").count());

        let lf = run(b"[profile a]\n", &request(organisation(), Unlisted::Prune));
        assert!(!text(&lf.bytes).contains('\r'));
    }

    #[test]
    fn stale_profiles_stay_without_prune_and_go_with_it() {
        let config = run(b"", &request(organisation(), Unlisted::KeepAsStale)).bytes;
        let fewer = organisation()[..2].to_vec();

        let kept = run(&config, &request(fewer.clone(), Unlisted::KeepAsStale));
        assert_eq!(
            kept.bytes, config,
            "nothing changes, the stale profile included"
        );
        assert_eq!(
            kept.report.stale,
            [ProfileEntry {
                name: "dev-Admin".into(),
                account_id: "222222222222".into(),
                role_name: "Admin".into()
            }]
        );
        assert!(kept.report.removed.is_empty());

        let pruned = run(&config, &request(fewer, Unlisted::Prune));
        assert!(!text(&pruned.bytes).contains("dev-Admin"));
        assert!(text(&pruned.bytes).contains("[profile prod-Admin]"));
        assert_eq!(pruned.report.removed.len(), 1);
        assert_eq!(pruned.report.removed[0].name, "dev-Admin");
        assert!(pruned.report.stale.is_empty());
    }

    #[test]
    fn prune_removes_nothing_outside_the_block() {
        let first = run(
            HAND_WRITTEN.as_bytes(),
            &request(organisation(), Unlisted::Prune),
        );
        let emptied = run(&first.bytes, &request(Vec::new(), Unlisted::Prune));
        let (before, after) = outside(&emptied.bytes, "corp");
        assert_eq!(text(before), format!("{HAND_WRITTEN}\r\n\r\n"));
        assert_eq!(after, b"");
        assert_eq!(emptied.report.removed.len(), 2, "dev-Admin is hand-written");
    }

    #[test]
    fn a_hand_written_profile_of_the_same_name_is_a_collision_and_left_alone() {
        let out = run(
            HAND_WRITTEN.as_bytes(),
            &request(organisation(), Unlisted::Prune),
        );
        assert_eq!(
            out.report.collisions,
            [Collision {
                profile: ProfileEntry {
                    name: "dev-Admin".into(),
                    account_id: "222222222222".into(),
                    role_name: "Admin".into()
                },
                owner: Owner::HandWritten,
            }]
        );
        assert_eq!(text(&out.bytes).matches("[profile dev-Admin]").count(), 1);
        assert!(text(&out.bytes).contains("[profile dev-Admin]\r\naws_access_key_id"));
        assert_eq!(out.report.written.len(), 2);
    }

    #[test]
    fn default_and_other_sessions_blocks_are_taken_names_too() {
        let other = run(
            b"[default]\n",
            &PopulateRequest {
                session: "other".into(),
                ..request(
                    vec![role("222222222222", Some("dev"), "Admin")],
                    Unlisted::Prune,
                )
            },
        );
        let roles = vec![
            role("222222222222", Some("dev"), "Admin"),
            role("333333333333", None, "x"),
        ];
        let out = run(
            &other.bytes,
            &PopulateRequest {
                template: Template::parse("{role_name}").unwrap(),
                ..request(roles.clone(), Unlisted::Prune)
            },
        );
        assert!(out.report.collisions.is_empty(), "{:?}", out.report);
        let out = run(
            &other.bytes,
            &PopulateRequest {
                template: Template::parse("default").unwrap(),
                ..request(roles[1..].to_vec(), Unlisted::Prune)
            },
        );
        assert_eq!(out.report.collisions[0].owner, Owner::HandWritten);
        let out = run(&other.bytes, &request(roles[..1].to_vec(), Unlisted::Prune));
        assert_eq!(
            out.report.collisions[0].owner,
            Owner::Session("other".into())
        );
    }

    #[test]
    fn a_profile_of_the_credentials_file_is_a_taken_name_too() {
        let credentials = b"[prod-Admin]\naws_access_key_id = AKIAEXAMPLE\n\n[ dev-Admin ]\n";
        let out = populate(b"", credentials, &request(organisation(), Unlisted::Prune)).unwrap();
        let taken: Vec<_> = out
            .report
            .collisions
            .iter()
            .map(|c| (c.profile.name.as_str(), &c.owner))
            .collect();
        assert_eq!(
            taken,
            [
                ("dev-Admin", &Owner::CredentialsFile),
                ("prod-Admin", &Owner::CredentialsFile)
            ]
        );
        assert_eq!(out.report.written.len(), 1);
    }

    #[test]
    fn two_accounts_of_one_name_get_names_apart_and_keep_them() {
        let twins = vec![
            role("222222222222", Some("prod"), "Admin"),
            role("111111111111", Some("prod"), "Admin"),
        ];
        let first = run(b"", &request(twins.clone(), Unlisted::Prune));
        let names: Vec<_> = first
            .report
            .written
            .iter()
            .map(|w| (w.profile.name.as_str(), w.wanted.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("prod-Admin", None),
                ("prod-Admin-222222222222", Some("prod-Admin"))
            ]
        );

        // The account that has the plain name keeps it when one with a lower id appears.
        let config = run(b"", &request(twins[..1].to_vec(), Unlisted::Prune)).bytes;
        let second = run(&config, &request(twins.clone(), Unlisted::Prune));
        let holder = |id: &str| {
            second
                .report
                .written
                .iter()
                .find(|w| w.profile.account_id == id)
                .unwrap()
                .profile
                .name
                .clone()
        };
        assert_eq!(holder("222222222222"), "prod-Admin");
        assert_eq!(holder("111111111111"), "prod-Admin-111111111111");

        // A stale profile keeps its name from a newcomer too.
        let third = run(
            &second.bytes,
            &request(twins[1..].to_vec(), Unlisted::KeepAsStale),
        );
        assert_eq!(third.bytes, second.bytes);
        assert_eq!(third.report.stale[0].name, "prod-Admin");
    }

    #[test]
    fn a_template_without_the_role_still_gives_every_role_its_own_name() {
        let out = run(
            b"",
            &PopulateRequest {
                template: Template::parse("{account_name}").unwrap(),
                ..request(organisation(), Unlisted::Prune)
            },
        );
        let mut names: Vec<_> = out
            .report
            .written
            .iter()
            .map(|w| w.profile.name.clone())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["dev", "prod", "prod-111111111111"],
            "{:?}",
            out.report
        );
    }

    #[test]
    fn a_renamed_account_renames_its_profiles() {
        let config = run(b"", &request(organisation(), Unlisted::KeepAsStale)).bytes;
        let mut renamed = organisation();
        renamed[2].account_name = Some("development".into());
        let out = run(&config, &request(renamed, Unlisted::KeepAsStale));
        assert!(text(&out.bytes).contains("[profile development-Admin]"));
        assert!(!text(&out.bytes).contains("[profile dev-Admin]"));
        assert!(out.report.written.iter().any(|w| w.change
            == Change::Renamed {
                from: "dev-Admin".into()
            }));
        assert!(out.report.stale.is_empty());
    }

    #[test]
    fn a_new_region_updates_every_profile() {
        let config = run(b"", &request(organisation(), Unlisted::Prune)).bytes;
        let out = run(
            &config,
            &PopulateRequest {
                region: "ap-south-1".into(),
                ..request(organisation(), Unlisted::Prune)
            },
        );
        assert_eq!(out.report.count(|c| *c == Change::Updated), 3);
        assert_eq!(text(&out.bytes).matches("region = ap-south-1").count(), 3);
    }

    #[test]
    fn adding_one_role_leaves_the_blocks_other_profiles_alone() {
        let config = run(b"", &request(organisation(), Unlisted::Prune)).bytes;
        let out = run(
            &config,
            &request(
                vec![role("333333333333", Some("test"), "Admin")],
                Unlisted::LeaveAlone,
            ),
        );
        for name in ["dev-Admin", "prod-Admin", "prod-ReadOnly", "test-Admin"] {
            assert!(
                text(&out.bytes).contains(&format!("[profile {name}]")),
                "{name}"
            );
        }
        assert_eq!(out.report.left_alone, 3);
        let again = run(&out.bytes, &request(organisation(), Unlisted::KeepAsStale));
        assert_eq!(again.report.stale.len(), 1);
    }

    #[test]
    fn names_are_sanitised_to_what_the_aws_cli_accepts() {
        for (raw, clean) in [
            ("prod-Admin", "prod-Admin"),
            ("My Account/Admin", "My-Account-Admin"),
            ("a]b[c", "a-b-c"),
            ("  spaced  out  ", "spaced-out"),
            ("Produktion Ü", "Produktion"),
            ("日本", ""),
            ("a--b__c", "a-b__c"),
            ("x+y@z=w,v.u", "x+y@z=w,v.u"),
            ("#comment;semi\"quote'", "comment-semi-quote"),
            ("tab\there\nnewline", "tab-here-newline"),
        ] {
            assert_eq!(sanitize_profile_name(raw), clean, "{raw:?}");
        }
    }

    #[test]
    fn an_empty_name_falls_back_to_the_account_id_and_role() {
        let out = run(
            b"",
            &PopulateRequest {
                template: Template::parse("{account_name}").unwrap(),
                ..request(
                    vec![role("444444444444", Some("日本"), "Admin")],
                    Unlisted::Prune,
                )
            },
        );
        assert_eq!(out.report.written[0].profile.name, "444444444444-Admin");
    }

    #[test]
    fn templates_take_the_four_placeholders_and_refuse_others() {
        let t = Template::parse("{sso_session}.{account_id}.{account_name}.{role_name}!").unwrap();
        assert_eq!(t.render(&role("1", Some("n"), "R"), "corp"), "corp.1.n.R!");
        assert_eq!(t.render(&role("1", None, "R"), "corp"), "corp.1.1.R!");
        assert_eq!(
            Template::parse("{account}-{role_name}"),
            Err(TemplateError::UnknownPlaceholder("account".into()))
        );
        let message = TemplateError::UnknownPlaceholder("account".into()).to_string();
        assert!(message.contains("{account}"), "{message}");
        assert!(!message.contains('\n'));
        assert_eq!(
            Template::parse("{role_name"),
            Err(TemplateError::Unmatched('{'))
        );
        assert_eq!(Template::parse("role}"), Err(TemplateError::Unmatched('}')));
        assert_eq!(
            Template::parse(DEFAULT_TEMPLATE).unwrap(),
            Template::default()
        );
    }

    #[test]
    fn damaged_markers_are_refused_with_their_line() {
        let begin = begin_line("corp");
        let end = end_line("corp");
        for (config, line, problem) in [
            (format!("[a]\n{end}\n"), 2, MarkerProblem::EndWithoutBegin),
            (
                format!("{begin}\n[profile x]\n"),
                1,
                MarkerProblem::BeginWithoutEnd,
            ),
            (
                format!("{begin}\n{begin}\n{end}\n"),
                2,
                MarkerProblem::BeginInsideBlock,
            ),
            (
                format!("{begin}\n{end}\n{begin}\n{end}\n"),
                3,
                MarkerProblem::SecondBlock,
            ),
            (
                format!("{begin}\n{}\n", end_line("other")),
                2,
                MarkerProblem::EndOfAnotherSession,
            ),
            (
                "# BEGIN ssobar populate: oops\n".to_owned(),
                1,
                MarkerProblem::Unreadable,
            ),
        ] {
            let error = populate(
                config.as_bytes(),
                b"",
                &request(organisation(), Unlisted::Prune),
            )
            .unwrap_err();
            assert_eq!(error, MarkerError { line, problem }, "{config}");
        }
        let error = PopulateError::Markers {
            path: "/h/.aws/config".into(),
            error: MarkerError {
                line: 7,
                problem: MarkerProblem::EndWithoutBegin,
            },
        }
        .to_string();
        assert!(
            error.starts_with("/h/.aws/config:7: an \"# END ssobar populate\""),
            "{error}"
        );
        assert!(error.contains("run \"ssobar populate\" again"), "{error}");
        assert!(!error.contains('\n'));
    }

    #[test]
    fn a_hand_edited_begin_comment_still_marks_the_block() {
        let config = run(b"", &request(organisation(), Unlisted::Prune)).bytes;
        let edited =
            text(&config).replace("(ssobar rewrites these lines; edit outside them)", "(mine)");
        let out = run(edited.as_bytes(), &request(organisation(), Unlisted::Prune));
        assert_eq!(out.bytes, config);
    }

    #[test]
    fn roles_that_could_break_the_file_are_skipped() {
        let out = run(
            b"",
            &request(
                vec![
                    role("111111111111", Some("prod"), "Admin\n[profile evil]"),
                    role("1111 ", Some("prod"), "Admin"),
                    role("222222222222", Some("dev"), "Admin"),
                ],
                Unlisted::Prune,
            ),
        );
        assert_eq!(out.report.unusable.len(), 2);
        assert!(!text(&out.bytes).contains("evil"));
        assert_eq!(out.report.written.len(), 1);
    }

    #[test]
    fn nothing_to_write_into_a_file_without_a_block_leaves_it_as_it_is() {
        let out = run(
            HAND_WRITTEN.as_bytes(),
            &request(Vec::new(), Unlisted::Prune),
        );
        assert_eq!(out.bytes, HAND_WRITTEN.as_bytes());
    }

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_dry_run_writes_nothing_and_a_write_creates_the_file_and_folder_private() {
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        let req = request(organisation(), Unlisted::Prune);
        let dry = populate_file(&paths, &req, Apply::DryRun).unwrap();
        assert!(dry.changes());
        assert!(!paths.config_file.exists());
        assert!(!paths.config_file.parent().unwrap().exists());

        let written = populate_file(&paths, &req, Apply::Write).unwrap();
        assert_eq!(written.after, dry.after);
        assert_eq!(std::fs::read(&paths.config_file).unwrap(), written.after);
        #[cfg(unix)]
        {
            assert_eq!(mode_of(&paths.config_file), 0o600);
            assert_eq!(mode_of(paths.config_file.parent().unwrap()), 0o700);
        }
        let again = populate_file(&paths, &req, Apply::Write).unwrap();
        assert!(!again.changes());
    }

    #[cfg(unix)]
    #[test]
    fn a_stricter_mode_is_kept_and_a_looser_one_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        std::fs::create_dir_all(paths.config_file.parent().unwrap()).unwrap();
        for (before, after) in [(0o400, 0o400), (0o644, 0o600), (0o600, 0o600)] {
            std::fs::write(&paths.config_file, b"[default]\n").unwrap();
            std::fs::set_permissions(&paths.config_file, std::fs::Permissions::from_mode(before))
                .unwrap();
            populate_file(
                &paths,
                &request(organisation(), Unlisted::Prune),
                Apply::Write,
            )
            .unwrap();
            assert_eq!(mode_of(&paths.config_file), after, "{before:o}");
            assert!(
                std::fs::read_to_string(&paths.config_file)
                    .unwrap()
                    .starts_with("[default]\n\n# BEGIN")
            );
            std::fs::set_permissions(&paths.config_file, std::fs::Permissions::from_mode(0o600))
                .unwrap();
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_config_that_is_a_symlink_stays_one_and_its_target_gets_the_profiles() {
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        let dotfiles = home.path().join("dotfiles");
        std::fs::create_dir_all(&dotfiles).unwrap();
        std::fs::write(dotfiles.join("aws-config"), b"[default]\n").unwrap();
        std::fs::create_dir_all(paths.config_file.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("../dotfiles/aws-config", &paths.config_file).unwrap();
        populate_file(
            &paths,
            &request(organisation(), Unlisted::Prune),
            Apply::Write,
        )
        .unwrap();
        assert!(
            std::fs::symlink_metadata(&paths.config_file)
                .unwrap()
                .is_symlink()
        );
        let target = std::fs::read_to_string(dotfiles.join("aws-config")).unwrap();
        assert!(target.contains("[profile prod-Admin]"), "{target}");
    }

    #[test]
    fn damaged_markers_leave_the_file_untouched() {
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        std::fs::create_dir_all(paths.config_file.parent().unwrap()).unwrap();
        let damaged = format!("[default]\n{}\n", end_line("corp"));
        std::fs::write(&paths.config_file, &damaged).unwrap();
        let error = populate_file(
            &paths,
            &request(organisation(), Unlisted::Prune),
            Apply::Write,
        )
        .unwrap_err();
        assert!(matches!(error, PopulateError::Markers { .. }), "{error}");
        assert_eq!(
            std::fs::read_to_string(&paths.config_file).unwrap(),
            damaged
        );
    }

    #[test]
    fn a_region_that_is_not_one_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let req = PopulateRequest {
            region: "us-east-1\n[profile x]".into(),
            ..request(organisation(), Unlisted::Prune)
        };
        let error = populate_file(&paths_in(home.path()), &req, Apply::Write).unwrap_err();
        assert!(matches!(error, PopulateError::Region(_)), "{error}");
    }

    #[test]
    fn the_held_lock_makes_a_write_wait_for_its_holder() {
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        let target = crate::util::fsutil::link_target(&paths.config_file).unwrap();
        let lock_path = crate::util::lock::KeyLock::guarding(&target);
        let held = crate::util::lock::KeyLock::try_acquire(&lock_path)
            .unwrap()
            .unwrap();
        let writer = {
            let paths = paths.clone();
            std::thread::spawn(move || {
                populate_file(
                    &paths,
                    &request(organisation(), Unlisted::Prune),
                    Apply::Write,
                )
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !paths.config_file.exists(),
            "written while the lock was held"
        );
        // Someone else's edit lands while the writer waits; it is read under the lock.
        std::fs::create_dir_all(paths.config_file.parent().unwrap()).unwrap();
        std::fs::write(&paths.config_file, b"[profile mine]\n").unwrap();
        drop(held);
        writer.join().unwrap().unwrap();
        let text = std::fs::read_to_string(&paths.config_file).unwrap();
        assert!(text.starts_with("[profile mine]\n\n# BEGIN"), "{text}");
    }

    #[test]
    fn add_profile_names_the_profile_and_refuses_a_taken_name() {
        let home = tempfile::tempdir().unwrap();
        let paths = paths_in(home.path());
        std::fs::create_dir_all(paths.config_file.parent().unwrap()).unwrap();
        std::fs::write(&paths.config_file, b"[profile dev-Admin]\nregion = x\n").unwrap();
        let prod = role("111111111111", Some("prod"), "Admin");
        assert_eq!(
            add_profile(&paths, "corp", &prod, "eu-west-1").unwrap(),
            "prod-Admin"
        );
        assert_eq!(
            add_profile(&paths, "corp", &prod, "eu-west-1").unwrap(),
            "prod-Admin"
        );
        let other = role("333333333333", Some("test"), "ReadOnly");
        assert_eq!(
            add_profile(&paths, "corp", &other, "eu-west-1").unwrap(),
            "test-ReadOnly"
        );
        let text = std::fs::read_to_string(&paths.config_file).unwrap();
        assert!(text.contains("[profile prod-Admin]") && text.contains("[profile test-ReadOnly]"));
        let dev = role("222222222222", Some("dev"), "Admin");
        let error = add_profile(&paths, "corp", &dev, "eu-west-1").unwrap_err();
        assert!(
            matches!(&error, PopulateError::NameTaken { name, .. } if name == "dev-Admin"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&paths.config_file).unwrap(), text);
    }

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("# a comment".to_owned()),
            Just("[profile prod-Admin]".to_owned()),
            Just("[default]".to_owned()),
            Just("region = us-east-1".to_owned()),
            "[ -~]{0,30}",
            "\\PC{0,12}",
        ]
    }

    fn file() -> impl Strategy<Value = String> {
        (
            prop::collection::vec((line(), prop_oneof![Just("\n"), Just("\r\n")]), 0..12),
            line(),
        )
            .prop_map(|(lines, last)| {
                let mut text: String = lines.into_iter().map(|(l, e)| l + e).collect();
                text.push_str(&last);
                text
            })
    }

    fn organisation_of_any_names() -> impl Strategy<Value = Vec<RoleAssignment>> {
        prop::collection::vec(
            (
                0u64..40,
                prop::option::of(prop_oneof!["[a-z]{1,3}", "\\PC{0,6}"]),
                prop::sample::select(vec!["Admin", "ReadOnly", "a b", "日本"]),
            ),
            0..30,
        )
        .prop_map(|roles| {
            roles
                .into_iter()
                .map(|(id, name, role_name)| RoleAssignment {
                    account_id: format!("{:012}", 100_000_000_000 + id),
                    account_name: name,
                    role_name: role_name.to_owned(),
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn any_organisation_gets_unique_valid_names_and_a_second_run_changes_nothing(
            roles in organisation_of_any_names(),
            template in prop::sample::select(vec![DEFAULT_TEMPLATE, "{account_name}", "x"]),
        ) {
            let req = PopulateRequest {
                template: Template::parse(template).unwrap(),
                ..request(roles, Unlisted::Prune)
            };
            let first = populate(b"[profile x]\n", b"", &req).unwrap();
            let mut names = HashSet::new();
            for written in &first.report.written {
                let name = &written.profile.name;
                prop_assert!(!name.is_empty());
                prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.+@=,".contains(c)), "{}", name);
                prop_assert!(names.insert(name.clone()), "{} twice", name);
                prop_assert!(name != "x");
            }
            let second = populate(&first.bytes, b"", &req).unwrap();
            prop_assert_eq!(&second.bytes, &first.bytes);
            prop_assert!(second.report.written.iter().all(|w| w.change == Change::Unchanged));
        }

        #[test]
        fn arbitrary_text_around_the_block_survives_byte_for_byte(before in file(), after in file()) {
            prop_assume!(!before.contains("ssobar populate") && !after.contains("ssobar populate"));
            let req = request(organisation(), Unlisted::Prune);
            let first = populate(before.as_bytes(), b"", &req).unwrap();
            prop_assert!(first.bytes.starts_with(before.as_bytes()));
            // Text appended after the block by hand stays where it is through later runs.
            let mut config = first.bytes.clone();
            config.extend_from_slice(after.as_bytes());
            let mut fewer = req.clone();
            fewer.roles.pop();
            let second = populate(&config, b"", &fewer).unwrap();
            prop_assert_eq!(outside(&second.bytes, "corp"), outside(&config, "corp"));
            let third = populate(&second.bytes, b"", &fewer).unwrap();
            prop_assert_eq!(third.bytes, second.bytes);
        }
    }
}
