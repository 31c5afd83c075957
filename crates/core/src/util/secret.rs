//! A string that must never reach a log, a panic message or `Debug` output.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A bearer token, client secret or secret key.
///
/// `Debug` and `Display` print a placeholder; the value is reachable only through
/// [`Secret::expose`], so every place that lets a secret out is greppable.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Names of headers and query parameters whose values the AWS SDK's own trace output lets
/// through: the SSO portal's bearer header (missing from the SDK's list of sensitive headers)
/// and the session token of a presigned URL (the signer redacts it as a header only).
const LEAKY_NAMES: &[&str] = &["x-amz-sso_bearer_token", "x-amz-security-token"];

/// What a redacted value is replaced with.
const REDACTED: &str = "** redacted **";

/// `text` with the value after every `LEAKY_NAMES` name (any case, in a header map's
/// `"name": "value"`, a header's `name:value` or a query's `name=value`) replaced: what log
/// output must pass through before it is written.
pub fn redact_log(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some((at, name)) = LEAKY_NAMES
        .iter()
        .filter_map(|name| lower[search..].find(name).map(|i| (search + i, name)))
        .min()
    {
        let after_name = at + name.len();
        let value_start = after_name
            + text[after_name..]
                .find(|c: char| !matches!(c, '"' | '\'' | ':' | '=' | ' '))
                .unwrap_or(text.len() - after_name);
        let value_end = value_start
            + text[value_start..]
                .find(|c: char| !is_token_char(c))
                .unwrap_or(text.len() - value_start);
        if value_end > value_start {
            out.push_str(&text[copied..value_start]);
            out.push_str(REDACTED);
            copied = value_end;
        }
        search = value_end.max(after_name);
    }
    out.push_str(&text[copied..]);
    out
}

/// Characters of a token, a key or their URL-encoded form.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '%' | '-' | '_' | '.' | '~')
}

/// A writer for log output that writes what it was given, passed through [`redact_log`], when
/// it is dropped: a log subscriber makes one per event, so each event is redacted whole.
pub struct RedactingWriter<W: std::io::Write> {
    inner: W,
    buffer: Vec<u8>,
}

impl<W: std::io::Write> RedactingWriter<W> {
    /// Redacts what goes to `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            buffer: Vec::new(),
        }
    }
}

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: std::io::Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let text = redact_log(&String::from_utf8_lossy(&self.buffer));
        // A log line that cannot be written is lost; there is nowhere to report it.
        let _ = self.inner.write_all(text.as_bytes());
        let _ = self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sso_bearer_header_and_a_presigned_session_token_are_redacted_from_logs() {
        let headers = r#"headers: {"x-amz-sso_bearer_token": "aoaAb+c/d=", "user-agent": "x"}"#;
        assert_eq!(
            redact_log(headers),
            r#"headers: {"x-amz-sso_bearer_token": "** redacted **", "user-agent": "x"}"#
        );
        let query =
            "GET\n/\nX-Amz-Date=1&X-Amz-Security-Token=IQoJ%2Bx%3D&X-Amz-SignedHeaders=host";
        assert_eq!(
            redact_log(query),
            "GET\n/\nX-Amz-Date=1&X-Amz-Security-Token=** redacted **&X-Amz-SignedHeaders=host"
        );
        let both = "x-amz-security-token:IQoJ\nX-AMZ-SSO_BEARER_TOKEN=aoa then more";
        assert_eq!(
            redact_log(both),
            "x-amz-security-token:** redacted **\nX-AMZ-SSO_BEARER_TOKEN=** redacted ** then more"
        );
    }

    #[test]
    fn log_text_without_a_leaky_name_is_left_as_it_is() {
        for text in [
            "",
            "no secret here",
            "x-amz-security-token",
            "x-amz-security-token: ",
            "ünïcode x-amz-security-token=\u{e9}",
        ] {
            assert_eq!(redact_log(text), text);
        }
    }

    #[test]
    fn the_writer_redacts_each_event_whole() {
        let mut out = Vec::new();
        {
            use std::io::Write;
            let mut writer = RedactingWriter::new(&mut out);
            writer.write_all(b"X-Amz-Secu").unwrap();
            writer.write_all(b"rity-Token=IQoJ rest\n").unwrap();
        }
        assert_eq!(out, b"X-Amz-Security-Token=** redacted ** rest\n");
    }

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }
}
