//! ssobar-core: every rule of ssobar's domain, with no GUI and no printing.
//!
//! The binaries (`ssobar`, the tray app) capture the environment and the clock, call in here,
//! and render what comes back. See `docs/architecture.md` for the map.

pub mod aws;
pub mod aws_auth;
pub mod browser;
pub mod channel;
pub mod config;
pub mod context;
pub mod credential_env;
pub mod credentials;
pub mod eks;
pub mod eks_cluster;
pub mod endpoints;
pub mod env;
pub mod fsutil;
pub mod keychain;
pub mod kubeconfig;
pub mod lock;
pub mod monitor;
pub mod oidc;
pub mod paths;
pub mod pkce;
pub mod portal;
pub mod secret;
pub mod settings;
pub mod signin;
pub mod status;
pub mod sts;
pub mod text;
pub mod time;
pub mod token_cache;
pub mod tray;
