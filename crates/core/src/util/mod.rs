//! Small tools every part uses: atomic private files, cross-process locks, timestamps as the
//! AWS tools write them, secrets that never print, and text made safe to show.

pub mod fsutil;
pub mod lock;
pub mod secret;
pub mod text;
pub mod time;
