//! Small tools every part uses: atomic private files, cross-process locks, timestamps as the
//! AWS tools write them, secrets that never print, text made safe to show, and futures that
//! never wait driven without a runtime.

pub mod fsutil;
pub mod lock;
pub mod ready;
pub mod secret;
pub mod text;
pub mod time;
