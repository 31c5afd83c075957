//! The tray app's decisions as pure functions of the status (tray model, notices, refresh
//! schedule, the window's view), and the channel by which helpers ask the app for a sign-in.

pub mod channel;
pub mod monitor;
pub mod tray;
