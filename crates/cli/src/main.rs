//! `ssobar`: the helper binary.
fn main() {}
