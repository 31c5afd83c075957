//! ssobar-core: every rule of ssobar's domain, with no GUI and no printing.
//!
//! The binaries (`ssobar`, the tray app) capture the environment and the clock, call in here,
//! and render what comes back. See `docs/architecture.md` for the map.

pub mod config;
pub mod env;
pub mod fsutil;
pub mod paths;
pub mod secret;
pub mod settings;
pub mod status;
pub mod time;
pub mod token_cache;
