//! ssobar-core: every rule of ssobar's domain, with no GUI and no printing.
//!
//! The binaries (`ssobar`, the tray app) capture the environment and the clock, call in here,
//! and render what comes back. See `docs/architecture.md` for the map.

pub mod app;
pub mod aws;
pub mod config;
pub mod context;
pub mod creds;
pub mod doctor;
pub mod env;
pub mod kube;
pub mod paths;
pub mod prompt;
pub mod settings;
pub mod setup;
pub mod sso;
pub mod status;
pub mod util;
