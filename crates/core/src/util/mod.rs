//! Small tools every part uses: atomic private files, cross-process locks, timestamps as the
//! AWS tools write them, secrets that never print, text made safe to show, the rule for URLs
//! that carry a sign-in or a token, futures that never wait driven without a runtime, command
//! lines split into words without a shell, and the loopback HTTP/1 server.

pub mod fsutil;
pub mod lock;
pub mod loopback_http;
pub mod ready;
pub mod secret;
pub mod text;
pub mod time;
pub mod urls;
pub mod words;
