//! The tray app's decisions as pure functions of the status (an SSO session's actions, the
//! tray model, notices, the refresh schedule, the window's view), and the channel by which
//! `ssobar` asks the app for a sign-in.

pub mod actions;
pub mod activity;
pub mod agent;
pub mod channel;
pub mod directory;
pub mod first_run;
pub mod monitor;
pub mod notices;
pub mod refresh;
pub mod tray;
pub mod view;
