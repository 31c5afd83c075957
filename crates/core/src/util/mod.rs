//! Small tools every part uses: atomic private files, cross-process locks, timestamps as the
//! AWS tools write them, secrets that never print, text made safe to show, and futures that
//! never wait driven without a runtime, command lines split
//! into words without a shell.

pub mod fsutil;
pub mod lock;
pub mod ready;
pub mod secret;
pub mod text;
pub mod time;
pub mod words;
