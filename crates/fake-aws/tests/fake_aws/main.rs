//! The fake AWS driven by real clients: the AWS SDK for Rust, a plain HTTP client for the
//! browser steps and the admin API, and the `ssobar-fake-aws` binary itself.

mod admin;
mod binary;
mod demo;
mod eks;
mod faults;
mod http;
mod oidc;
mod portal;
mod sdk;
mod sts;
