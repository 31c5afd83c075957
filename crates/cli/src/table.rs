//! The helper's tables, as pure functions to text: the status table, and the column layout
//! every table of the helper (status, accounts, clusters) shares.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use ssobar_core::status::{ProfileStatus, SessionState};
use ssobar_core::util::text::printable;
use ssobar_core::util::time::{format_duration, format_local};

/// Whether to colour the STATE column.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// ANSI colours (a terminal, and `NO_COLOR` unset).
    Color,
    /// No escape codes: a pipe, a file, or `NO_COLOR` set.
    Plain,
}

const HEADERS: [&str; 7] = [
    "PROFILE", "SESSION", "ACCOUNT", "ROLE", "STATE", "EXPIRES", "LEFT",
];
const STATE_COLUMN: usize = 4;

/// Renders one row per profile, columns padded to their widest cell.
pub fn render_table(
    profiles: &[&ProfileStatus],
    now: Timestamp,
    tz: &TimeZone,
    style: Style,
) -> String {
    let rows: Vec<[String; 7]> = profiles.iter().map(|p| row(p, now, tz)).collect();
    let mut out = aligned_painted(HEADERS, &rows, |row, column| {
        (style == Style::Color && column == STATE_COLUMN).then(|| colour_of(profiles[row].state))
    });
    let notes = notes(profiles);
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            out.push_str(&note);
            out.push('\n');
        }
    }
    out
}

/// What to do about each row that is not fine, once per session (or per profile when the
/// problem is the profile's own), so ten profiles on one expired session make one line.
fn notes(profiles: &[&ProfileStatus]) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    for p in profiles {
        let Some(detail) = &p.detail else { continue };
        if matches!(p.state, SessionState::Valid | SessionState::NotApplicable) {
            continue;
        }
        let subject = match (&p.sso_session, p.state) {
            (Some(session), s) if s != SessionState::Misconfigured => session.as_str(),
            _ => p.profile.as_str(),
        };
        let note = printable(&format!("{subject}: {detail}"));
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    notes
}

fn row(p: &ProfileStatus, now: Timestamp, tz: &TimeZone) -> [String; 7] {
    let dash = || "-".to_owned();
    let session = p
        .sso_session
        .clone()
        .or_else(|| p.start_url.as_deref().map(short_url))
        .unwrap_or_else(dash);
    let expires = p
        .expires_at
        .map(|at| format_local(at, now, tz))
        .unwrap_or_else(dash);
    let left = match p.expires_at {
        Some(at) if p.state.is_signed_in() => format_duration(at.as_second() - now.as_second()),
        _ => dash(),
    };
    [
        p.profile.clone(),
        session,
        p.account_id.clone().unwrap_or_else(dash),
        p.role_name.clone().unwrap_or_else(dash),
        p.state.as_str().to_owned(),
        expires,
        left,
    ]
}

/// `https://corp.awsapps.com/start` → `corp.awsapps.com`: enough to tell portals apart.
fn short_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

fn colour_of(state: SessionState) -> &'static str {
    match state {
        SessionState::Valid => "\x1b[32m",
        SessionState::Expiring => "\x1b[33m",
        SessionState::Expired | SessionState::Missing | SessionState::Invalid => "\x1b[31m",
        SessionState::Misconfigured => "\x1b[35m",
        SessionState::NotApplicable => "\x1b[2m",
    }
}

/// `rows` under `headers`, each column padded to its widest cell, two spaces between columns
/// and none after the last. Every cell is made [printable]: names, ids and messages in the
/// helper's tables come from the network or from files others may have written.
pub fn aligned<const N: usize>(headers: [&str; N], rows: &[[String; N]]) -> String {
    aligned_painted(headers, rows, |_, _| None)
}

/// [`aligned`], with the cells `paint(row, column)` names wrapped in that ANSI colour.
fn aligned_painted<const N: usize>(
    headers: [&str; N],
    rows: &[[String; N]],
    paint: impl Fn(usize, usize) -> Option<&'static str>,
) -> String {
    let rows: Vec<[String; N]> = rows
        .iter()
        .map(|row| row.each_ref().map(|cell| printable(cell)))
        .collect();
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    push_line(&mut out, &headers.map(str::to_owned), &widths, |_| None);
    for (index, r) in rows.iter().enumerate() {
        push_line(&mut out, r, &widths, |column| paint(index, column));
    }
    out
}

fn push_line<const N: usize>(
    out: &mut String,
    cells: &[String; N],
    widths: &[usize; N],
    paint: impl Fn(usize) -> Option<&'static str>,
) {
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        match paint(i) {
            Some(colour) => out.push_str(&format!("{colour}{cell}\x1b[0m")),
            None => out.push_str(cell),
        }
        if i + 1 != N {
            out.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssobar_core::config::ProfileKind;

    fn profile(name: &str, state: SessionState, expires: Option<&str>) -> ProfileStatus {
        ProfileStatus {
            profile: name.into(),
            kind: ProfileKind::SsoSession,
            sso_session: Some("corp".into()),
            start_url: Some("https://corp.awsapps.com/start".into()),
            sso_region: Some("us-east-1".into()),
            account_id: Some("111111111111".into()),
            role_name: Some("Admin".into()),
            region: None,
            state,
            expires_at: expires.map(|e| e.parse().unwrap()),
            refreshable: false,
            detail: None,
            session_id: None,
        }
    }

    #[test]
    fn aligned_columns_with_local_expiry_and_time_left() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let valid = profile("dev", SessionState::Valid, Some("2024-05-01T14:13:30Z"));
        let mut expired = profile(
            "production",
            SessionState::Expired,
            Some("2024-05-01T11:00:00Z"),
        );
        expired.detail = Some("expired 1h 0m ago: run \"ssobar login --sso-session corp\"".into());
        let mut also_expired = expired.clone();
        also_expired.profile = "staging".into();
        let text = render_table(
            &[&valid, &expired, &also_expired],
            now,
            &TimeZone::UTC,
            Style::Plain,
        );
        assert_eq!(
            text,
            "PROFILE     SESSION  ACCOUNT       ROLE   STATE    EXPIRES  LEFT\n\
             dev         corp     111111111111  Admin  valid    14:13    2h 13m\n\
             production  corp     111111111111  Admin  expired  11:00    -\n\
             staging     corp     111111111111  Admin  expired  11:00    -\n\
             \n\
             corp: expired 1h 0m ago: run \"ssobar login --sso-session corp\"\n"
        );
    }

    #[test]
    fn colour_only_on_the_state_column_when_asked() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let p = profile("dev", SessionState::Expiring, Some("2024-05-01T12:05:00Z"));
        let plain = render_table(&[&p], now, &TimeZone::UTC, Style::Plain);
        assert!(!plain.contains('\x1b'));
        let colour = render_table(&[&p], now, &TimeZone::UTC, Style::Color);
        assert!(colour.contains("\x1b[33mexpiring\x1b[0m"));
    }

    #[test]
    fn no_cell_carries_a_control_character_and_the_columns_still_line_up() {
        let rows = [
            ["\x1b[2J\x1b]0;owned\x07prod".to_owned(), "a\nb".to_owned()],
            ["dev".to_owned(), "\u{9b}31mc".to_owned()],
        ];
        assert_eq!(
            aligned(["NAME", "ROLE"], &rows),
            "NAME  ROLE\n\
             prod  a b\n\
             dev   c\n"
        );
    }

    #[test]
    fn legacy_sessions_show_their_portal() {
        assert_eq!(
            short_url("https://corp.awsapps.com/start#/"),
            "corp.awsapps.com"
        );
    }
}
